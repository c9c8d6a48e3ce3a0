//! The footer and every page header of a Parquet file, checked before the parquet crate reads
//! them.
//!
//! A page header is Thrift (compact protocol), and the crate skips the fields it does not know
//! without bounding them by the bytes there are: a list may claim 2^31 booleans, which cost
//! nothing on the wire and a loop turn each to skip, or 2^31 doubles past the end of the file,
//! each skipped as an empty read. A few bytes of header can so hold the parser for seconds, and
//! a file of such headers for hours. Here each header is walked with every count held to the
//! bytes that could encode it, in time proportional to its length, and the pages' claimed
//! sizes are held to the column chunk. The footer (the file's metadata, Thrift too) is walked
//! the same way first: the crate skips its unknown fields with the same loop.

use parquet::file::metadata::ParquetMetaData;
use parquet::file::reader::ChunkReader;

/// Largest uncompressed page accepted: the decoder allocates what a header claims.
pub const MAX_PAGE_BYTES: i64 = 256 << 20;
/// Header bytes read at first (a header is tens of bytes); a longer one (large statistics) is
/// read again in a window sixteen times larger, until it fits.
const HEADER_WINDOW: usize = 1 << 10;
/// Thrift's nesting bound, as the parquet crate applies it.
const MAX_DEPTH: u8 = 64;

/// Walks the footer of the Parquet file `reader` holds, as one Thrift struct, before the parquet
/// crate decodes it. A file without a Parquet tail is left to the crate, which says why.
///
/// # Errors
/// The footer is malformed, or claims more than its bytes can hold.
pub fn check_footer<R: ChunkReader>(reader: &R) -> Result<(), String> {
    let length = reader.len();
    if length < 12 {
        return Ok(());
    }
    let tail = reader
        .get_bytes(length - 8, 8)
        .map_err(|error| error.to_string())?;
    if &tail[4..] != b"PAR1" {
        return Ok(());
    }
    let footer_length = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    let Some(start) = (length - 8).checked_sub(footer_length) else {
        return Ok(());
    };
    let footer = reader
        .get_bytes(start, usize::try_from(footer_length).unwrap_or(usize::MAX))
        .map_err(|error| error.to_string())?;
    match PageHeaderWalk::new(&footer).value(12, MAX_DEPTH) {
        Ok(()) => Ok(()),
        Err(Walk::Short) => Err("the footer runs past its end".into()),
        Err(Walk::Malformed(error)) => Err(format!("the footer: {error}")),
    }
}

/// Walks every page header of every column chunk of `metadata`'s file.
///
/// # Errors
/// What is wrong with the first header that is malformed, claims more than its bytes can hold,
/// or places a page outside its column chunk.
pub fn check<R: ChunkReader>(reader: &R, metadata: &ParquetMetaData) -> Result<(), String> {
    for (group, row_group) in metadata.row_groups().iter().enumerate() {
        for (column, chunk) in row_group.columns().iter().enumerate() {
            let (start, length) = chunk.byte_range();
            let end = start
                .checked_add(length)
                .filter(|end| *end <= reader.len())
                .ok_or_else(|| format!("column chunk {group}/{column} lies outside the file"))?;
            let mut at = start;
            while at < end {
                let left = usize::try_from(end - at).unwrap_or(usize::MAX);
                let header = read_header(reader, at, left).map_err(|error| {
                    format!("page header at byte {at} of column chunk {group}/{column}: {error}")
                })?;
                if !(0..=MAX_PAGE_BYTES).contains(&header.uncompressed) || header.compressed < 0 {
                    return Err(format!(
                        "page at byte {at} of column chunk {group}/{column} claims {} bytes ({} compressed)",
                        header.uncompressed, header.compressed
                    ));
                }
                at = at
                    .saturating_add(u64::try_from(header.length).unwrap_or(u64::MAX))
                    .saturating_add(header.compressed.unsigned_abs());
            }
            if at != end {
                return Err(format!(
                    "the pages of column chunk {group}/{column} run past its end"
                ));
            }
        }
    }
    Ok(())
}

/// What the walk needs of one page header.
struct Header {
    /// Bytes of the header itself.
    length: usize,
    uncompressed: i64,
    compressed: i64,
}

/// Reads the header at `at`, with at most `left` bytes of the chunk after it.
fn read_header<R: ChunkReader>(reader: &R, at: u64, left: usize) -> Result<Header, String> {
    let mut window = HEADER_WINDOW.min(left);
    loop {
        let bytes = reader
            .get_bytes(at, window)
            .map_err(|error| error.to_string())?;
        match PageHeaderWalk::new(&bytes).walk() {
            Err(Walk::Short) if window < left => window = window.saturating_mul(16).min(left),
            Err(Walk::Short) => return Err("it runs past the column chunk".into()),
            Err(Walk::Malformed(error)) => return Err(error),
            Ok(header) => return Ok(header),
        }
    }
}

/// Why a walk stopped.
enum Walk {
    /// The bytes ended first.
    Short,
    /// The header is not valid Thrift, or claims more than its bytes can hold.
    Malformed(String),
}

struct PageHeaderWalk<'b> {
    bytes: &'b [u8],
    at: usize,
}

impl<'b> PageHeaderWalk<'b> {
    const fn new(bytes: &'b [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    fn left(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn byte(&mut self) -> Result<u8, Walk> {
        let byte = *self.bytes.get(self.at).ok_or(Walk::Short)?;
        self.at += 1;
        Ok(byte)
    }

    fn skip(&mut self, count: u64) -> Result<(), Walk> {
        let count = usize::try_from(count).map_err(|_| Walk::Short)?;
        if count > self.left() {
            return Err(Walk::Short);
        }
        self.at += count;
        Ok(())
    }

    fn varint(&mut self) -> Result<u64, Walk> {
        let mut value = 0_u64;
        for shift in (0..70).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift.min(63);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Walk::Malformed("a varint longer than 10 bytes".into()))
    }

    fn zigzag(&mut self) -> Result<i64, Walk> {
        let raw = self.varint()?;
        // the low bit is the sign: 0, -1, 1, -2, …
        let magnitude = i64::try_from(raw >> 1).unwrap_or(i64::MAX);
        Ok(if raw & 1 == 0 {
            magnitude
        } else {
            -magnitude - 1
        })
    }

    /// A count of collection elements, each of which takes one byte at least.
    fn count(&mut self, count: u64) -> Result<u64, Walk> {
        if count > self.left() as u64 {
            return Err(Walk::Malformed(format!(
                "a collection claims {count} elements in {} bytes",
                self.left()
            )));
        }
        Ok(count)
    }

    /// The top-level `PageHeader` struct: its sizes (fields 2 and 3), the rest skipped.
    fn walk(mut self) -> Result<Header, Walk> {
        let (mut uncompressed, mut compressed) = (None, None);
        let mut field = 0_i64;
        loop {
            let head = self.byte()?;
            if head == 0 {
                break;
            }
            let kind = head & 0x0f;
            let delta = i64::from(head >> 4);
            field = if delta == 0 {
                self.zigzag()?
            } else {
                field + delta
            };
            match (field, kind) {
                (2, 5) => uncompressed = Some(self.zigzag()?),
                (3, 5) => compressed = Some(self.zigzag()?),
                _ => self.value(kind, MAX_DEPTH)?,
            }
        }
        match (uncompressed, compressed) {
            (Some(uncompressed), Some(compressed)) => Ok(Header {
                length: self.at,
                uncompressed,
                compressed,
            }),
            _ => Err(Walk::Malformed("a page header without its sizes".into())),
        }
    }

    /// Skips one value of compact type `kind` as a struct field (booleans carry no bytes).
    fn value(&mut self, kind: u8, depth: u8) -> Result<(), Walk> {
        if depth == 0 {
            return Err(Walk::Malformed("nested deeper than 64".into()));
        }
        match kind {
            1 | 2 => Ok(()),
            3 => self.skip(1),
            4..=6 => self.varint().map(|_| ()),
            7 => self.skip(8),
            8 => {
                let length = self.varint()?;
                self.skip(length)
            }
            9 | 10 => {
                let head = self.byte()?;
                let short = u64::from(head >> 4);
                let count = if short == 15 { self.varint()? } else { short };
                let count = self.count(count)?;
                for _ in 0..count {
                    self.element(head & 0x0f, depth - 1)?;
                }
                Ok(())
            }
            11 => {
                let count = self.varint()?;
                if count == 0 {
                    return Ok(());
                }
                let types = self.byte()?;
                let count = self.count(count.saturating_mul(2))? / 2;
                for _ in 0..count {
                    self.element(types >> 4, depth - 1)?;
                    self.element(types & 0x0f, depth - 1)?;
                }
                Ok(())
            }
            12 => loop {
                let head = self.byte()?;
                if head == 0 {
                    return Ok(());
                }
                if head >> 4 == 0 {
                    self.zigzag()?;
                }
                self.value(head & 0x0f, depth - 1)?;
            },
            13 => self.skip(16),
            other => Err(Walk::Malformed(format!("unknown Thrift type {other}"))),
        }
    }

    /// Skips one collection element of compact type `kind`: a boolean element is a byte.
    fn element(&mut self, kind: u8, depth: u8) -> Result<(), Walk> {
        match kind {
            1 | 2 => self.skip(1),
            other => self.value(other, depth),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page header: type 0, the two sizes, then `extra` fields.
    fn header(uncompressed: u8, compressed: u8, extra: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0x15, 0x00, 0x15, uncompressed << 1, 0x15, compressed << 1];
        bytes.extend_from_slice(extra);
        bytes.push(0);
        bytes
    }

    #[test]
    fn a_header_gives_its_sizes_and_length() {
        // field 4 (crc, i32) and field 5 (a data page header struct) skipped
        let bytes = header(20, 10, &[0x15, 0x08, 0x1c, 0x15, 0x04, 0x00]);
        let walked = PageHeaderWalk::new(&bytes).walk().ok().expect("valid");
        assert_eq!((walked.uncompressed, walked.compressed), (20, 10));
        assert_eq!(walked.length, bytes.len());
    }

    #[test]
    fn a_header_longer_than_the_first_window_is_read_whole() {
        // field 4 as 3 KiB of binary (large statistics), then a page body of 10 bytes
        let mut extra = vec![0x18, 0x80, 0x18];
        extra.extend(std::iter::repeat_n(b'x', 3 << 10));
        let header_bytes = header(20, 10, &extra);
        let mut file = header_bytes.clone();
        file.extend([0_u8; 10]);
        let file = bytes::Bytes::from(file);
        let read = read_header(&file, 0, file.len()).expect("whole");
        assert_eq!(read.length, header_bytes.len());
        assert!(read.length > HEADER_WINDOW);
        // cut inside the header: it runs past the chunk
        assert!(read_header(&file, 0, 2_000).is_err());
    }

    #[test]
    fn a_collection_larger_than_its_bytes_is_refused_at_once() {
        // field 6 as a list of 2^31 - 1 booleans (0xf1 and a varint): free to claim, a loop
        // turn each for the parquet crate; and one of 2^31 - 1 doubles
        for element in [0xf1_u8, 0xf7] {
            let bytes = header(20, 10, &[0x19, element, 0xff, 0xff, 0xff, 0xff, 0x07]);
            assert!(matches!(
                PageHeaderWalk::new(&bytes).walk(),
                Err(Walk::Malformed(error)) if error.contains("2147483647 elements")
            ));
        }
        // a map of as many entries
        let bytes = header(20, 10, &[0x1b, 0xff, 0xff, 0xff, 0xff, 0x07, 0x11]);
        assert!(matches!(
            PageHeaderWalk::new(&bytes).walk(),
            Err(Walk::Malformed(_))
        ));
    }

    #[test]
    fn a_truncated_header_is_short_and_deep_nesting_is_refused() {
        let bytes = header(20, 10, &[]);
        assert!(matches!(
            PageHeaderWalk::new(&bytes[..4]).walk(),
            Err(Walk::Short)
        ));
        // 70 nested structs in field 6
        let mut extra = vec![0x1c];
        extra.extend(std::iter::repeat_n(0x1c, 70));
        let bytes = header(20, 10, &extra);
        assert!(matches!(
            PageHeaderWalk::new(&bytes).walk(),
            Err(Walk::Malformed(error)) if error.contains("deeper")
        ));
    }

    #[test]
    fn a_footer_claiming_more_than_its_bytes_is_refused_at_once() {
        let bytes = bytes::Bytes::from(
            std::fs::read(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../../tests/fixtures/crashers/footer_list_bomb.parquet"),
            )
            .expect("fixture"),
        );
        let refused = check_footer(&bytes).expect_err("a bomb");
        assert!(refused.contains("claims"), "{refused}");
        // a sound file's footer passes
        let sound = bytes::Bytes::from(
            std::fs::read(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../../tests/fixtures/crashers/page_header_list_bomb.parquet"),
            )
            .expect("fixture"),
        );
        assert_eq!(check_footer(&sound), Ok(()));
        // and bytes that are not Parquet are left to the crate
        assert_eq!(
            check_footer(&bytes::Bytes::from_static(b"not parquet at all")),
            Ok(())
        );
    }

    #[test]
    fn the_file_the_fuzzer_found_is_refused_by_its_page_headers() {
        let bytes = bytes::Bytes::from(
            std::fs::read(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../../tests/fixtures/crashers/page_header_list_bomb.parquet"),
            )
            .expect("fixture"),
        );
        let metadata = parquet::file::metadata::ParquetMetaDataReader::new()
            .parse_and_finish(&bytes)
            .expect("its footer is sound");
        // its headers are refused before the parquet crate reads one
        assert!(check(&bytes, &metadata).is_err());
    }
}
