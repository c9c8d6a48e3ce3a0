//! Real zip codes with their city, state and approximate centre, so generated listings look
//! like the markets miners scrape.

/// One zip code area.
#[derive(Clone, Copy, Debug)]
pub struct ZipArea {
    /// Five-digit zip code.
    pub zip: &'static str,
    /// City.
    pub city: &'static str,
    /// Two-letter state.
    pub state: &'static str,
    /// Approximate centre latitude.
    pub latitude: f64,
    /// Approximate centre longitude.
    pub longitude: f64,
    /// Typical price of a three-bedroom home, in dollars.
    pub median_price: i64,
}

const fn area(
    zip: &'static str,
    city: &'static str,
    state: &'static str,
    latitude: f64,
    longitude: f64,
    median_price: i64,
) -> ZipArea {
    ZipArea {
        zip,
        city,
        state,
        latitude,
        longitude,
        median_price,
    }
}

/// The areas listings are drawn from.
pub const AREAS: [ZipArea; 40] = [
    area("78701", "Austin", "TX", 30.2711, -97.7437, 650_000),
    area("78702", "Austin", "TX", 30.2634, -97.7145, 560_000),
    area("78704", "Austin", "TX", 30.2430, -97.7652, 720_000),
    area("77494", "Katy", "TX", 29.7449, -95.8245, 480_000),
    area("77002", "Houston", "TX", 29.7569, -95.3625, 390_000),
    area("75201", "Dallas", "TX", 32.7876, -96.7994, 520_000),
    area("19103", "Philadelphia", "PA", 39.9523, -75.1743, 450_000),
    area("19104", "Philadelphia", "PA", 39.9597, -75.1968, 380_000),
    area("10001", "New York", "NY", 40.7506, -73.9972, 1_350_000),
    area("10025", "New York", "NY", 40.7990, -73.9680, 1_100_000),
    area("11211", "Brooklyn", "NY", 40.7121, -73.9538, 1_050_000),
    area("02134", "Boston", "MA", 42.3571, -71.1296, 780_000),
    area("02116", "Boston", "MA", 42.3496, -71.0765, 1_200_000),
    area(
        "90210",
        "Beverly Hills",
        "CA",
        34.0901,
        -118.4065,
        3_900_000,
    ),
    area("90012", "Los Angeles", "CA", 34.0614, -118.2385, 820_000),
    area(
        "94102",
        "San Francisco",
        "CA",
        37.7793,
        -122.4193,
        1_150_000,
    ),
    area(
        "94110",
        "San Francisco",
        "CA",
        37.7487,
        -122.4158,
        1_450_000,
    ),
    area("92101", "San Diego", "CA", 32.7194, -117.1628, 780_000),
    area("95814", "Sacramento", "CA", 38.5805, -121.4944, 520_000),
    area("98101", "Seattle", "WA", 47.6114, -122.3305, 900_000),
    area("98103", "Seattle", "WA", 47.6733, -122.3426, 1_000_000),
    area("97209", "Portland", "OR", 45.5311, -122.6843, 560_000),
    area("80202", "Denver", "CO", 39.7527, -104.9995, 640_000),
    area("85004", "Phoenix", "AZ", 33.4515, -112.0687, 430_000),
    area("89101", "Las Vegas", "NV", 36.1720, -115.1224, 360_000),
    area("84101", "Salt Lake City", "UT", 40.7555, -111.8967, 520_000),
    area("60601", "Chicago", "IL", 41.8858, -87.6181, 480_000),
    area("60614", "Chicago", "IL", 41.9227, -87.6533, 690_000),
    area("48226", "Detroit", "MI", 42.3316, -83.0487, 240_000),
    area("55401", "Minneapolis", "MN", 44.9840, -93.2697, 380_000),
    area("63101", "St. Louis", "MO", 38.6313, -90.1922, 260_000),
    area("37203", "Nashville", "TN", 36.1505, -86.7889, 560_000),
    area("30303", "Atlanta", "GA", 33.7525, -84.3915, 420_000),
    area("33131", "Miami", "FL", 25.7667, -80.1918, 720_000),
    area("32801", "Orlando", "FL", 28.5421, -81.3790, 390_000),
    area("33602", "Tampa", "FL", 27.9516, -82.4589, 450_000),
    area("28202", "Charlotte", "NC", 35.2272, -80.8431, 470_000),
    area("27601", "Raleigh", "NC", 35.7730, -78.6345, 450_000),
    area("20001", "Washington", "DC", 38.9109, -77.0177, 750_000),
    area("21201", "Baltimore", "MD", 39.2946, -76.6252, 290_000),
];

/// Street names.
pub const STREETS: [&str; 24] = [
    "Main",
    "Oak",
    "Pine",
    "Maple",
    "Cedar",
    "Elm",
    "Washington",
    "Lake",
    "Hill",
    "Park",
    "Sunset",
    "Ridge",
    "Walnut",
    "Spring",
    "Willow",
    "Highland",
    "Church",
    "Mill",
    "River",
    "Meadow",
    "Forest",
    "Jackson",
    "Lincoln",
    "Franklin",
];

/// Street suffixes, long and abbreviated: miners write either, normalisation makes them equal.
pub const SUFFIXES: [(&str, &str); 6] = [
    ("Street", "St"),
    ("Avenue", "Ave"),
    ("Drive", "Dr"),
    ("Lane", "Ln"),
    ("Road", "Rd"),
    ("Court", "Ct"),
];

/// v1 home types with their weights.
pub const HOME_TYPES: [(&str, u32); 5] = [
    ("SINGLE_FAMILY", 55),
    ("CONDO", 20),
    ("TOWNHOUSE", 12),
    ("MULTI_FAMILY", 8),
    ("APARTMENT", 5),
];
