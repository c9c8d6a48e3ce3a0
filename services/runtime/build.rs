//! Embeds every `migrations/NNNN_name.sql` file, so adding a migration needs no code change.

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    let manifest =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let dir = manifest
        .join("../../migrations")
        .canonicalize()
        .expect("migrations/ exists at the workspace root");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read migrations/")
        .map(|entry| entry.expect("read migrations/ entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
        .collect();
    files.sort();
    let mut code = String::from(
        "/// Every migration, in order: (version, name, sql).\npub static MIGRATIONS: &[(i32, &str, &str)] = &[\n",
    );
    let mut previous = 0;
    for path in files {
        println!("cargo:rerun-if-changed={}", path.display());
        let stem = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .expect("utf-8 file name");
        let (number, name) = stem
            .split_once('_')
            .unwrap_or_else(|| panic!("{stem}: name migrations NNNN_description.sql"));
        let version: i32 = number
            .parse()
            .unwrap_or_else(|_| panic!("{stem}: version must be a number"));
        assert!(
            version > previous,
            "{stem}: versions must increase without duplicates"
        );
        previous = version;
        writeln!(
            code,
            "    ({version}, {name:?}, include_str!({:?})),",
            path.display()
        )
        .expect("write to string");
    }
    code.push_str("];\n");
    let out =
        PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("migrations.rs");
    std::fs::write(out, code).expect("write migrations.rs");
}
