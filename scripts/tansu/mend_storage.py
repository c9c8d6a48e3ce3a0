"""Mends a Tansu 0.6 SQLite log in place (see tansu_mend_storage in scripts/stack): an index
on record headers, and retention.ms = -1 stored as the largest integer. Waits for the broker to
have created its tables. Usage: mend_storage.py PATH/tansu.db"""
import sqlite3, sys, time
FOREVER = "9223372036854775807"
STATEMENTS = [
    "CREATE INDEX IF NOT EXISTS header_by_record ON header (topition, offset_id)",
    f"""CREATE TRIGGER IF NOT EXISTS retention_forever_insert AFTER INSERT ON topic_configuration
        WHEN NEW.name = 'retention.ms' AND CAST(NEW.value AS INTEGER) < 0
        BEGIN UPDATE topic_configuration SET value = '{FOREVER}' WHERE id = NEW.id; END""",
    f"""CREATE TRIGGER IF NOT EXISTS retention_forever_update AFTER UPDATE OF value ON topic_configuration
        WHEN NEW.name = 'retention.ms' AND CAST(NEW.value AS INTEGER) < 0
        BEGIN UPDATE topic_configuration SET value = '{FOREVER}' WHERE id = NEW.id; END""",
    f"UPDATE topic_configuration SET value = '{FOREVER}' WHERE name = 'retention.ms' AND CAST(value AS INTEGER) < 0",
]
deadline = time.monotonic() + 30
while True:
    try:
        db = sqlite3.connect(sys.argv[1], timeout=10)
        for statement in STATEMENTS:
            db.execute(statement)
        db.commit()
        break
    except sqlite3.OperationalError as error:  # the broker has not created its tables yet
        if time.monotonic() > deadline:
            sys.exit(f"tansu: could not mend its storage: {error}")
        time.sleep(0.2)
