-- The API checks listings' coordinates against their zip code's reference point (data quality),
-- so its read-only role reads the reference data too.
GRANT SELECT ON zipcodes TO resi_api;
