-- Every US zipcode with its place and type: the coordinator's reference data, loaded by
-- `resi zipcodes import` from the data embedded in the binary (services/coordinator/data).
-- The type says where homes can be: PO BOX and UNIQUE zipcodes hold none, which makes them
-- honeypots with a known truth.
CREATE TABLE zipcodes (
    zipcode      text             PRIMARY KEY CHECK (zipcode ~ '^[0-9]{5}$'),
    zipcode_type text             NOT NULL CHECK (zipcode_type IN ('STANDARD', 'PO BOX', 'UNIQUE', 'MILITARY')),
    active       boolean          NOT NULL,
    state        text             NOT NULL,
    city         text             NOT NULL,
    county       text             NOT NULL,
    latitude     double precision,
    longitude    double precision
);
