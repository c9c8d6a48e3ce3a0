//! Any bytes, read as every upload layout, keep the parser's contract
//! (`resi_parser::fuzz::check`): a parsed file or a recorded failure, events that decode and
//! add up, the same events for the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: {
        // A panic inside the parser is caught and the file recorded as corrupt: that is the
        // contract, so it is not a crash here. RESI_FUZZ_PANICS=crash makes it one, to hunt
        // the decoder faults behind such panics.
        if std::env::var_os("RESI_FUZZ_PANICS").is_none_or(|mode| mode != "crash") {
            std::panic::set_hook(Box::new(|_| {}));
        }
    },
    |data: &[u8]| {
        let bytes = bytes::Bytes::copy_from_slice(data);
        if let Err(violation) = resi_parser::fuzz::check_all(&bytes) {
            eprintln!("the parser broke its contract: {violation}");
            std::process::abort();
        }
    }
);
