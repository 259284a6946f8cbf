//! Connection character sets other than utf8mb4: which one a client's handshake collation
//! names, and the encoding that converts between it and UTF-8 (`encoding_rs`, the WHATWG
//! encodings; MySQL's `latin1` is windows-1252).

use encoding_rs::Encoding;

/// Character sets by the collation ids clients send in their handshake (MariaDB's numbers;
/// the charset's default collation and the common others). Ids not listed mean utf8mb4.
const COLLATIONS: &[(u8, &str)] = &[
    (1, "big5"),
    (5, "latin1"),
    (7, "koi8r"),
    (8, "latin1"),
    (9, "latin2"),
    (11, "ascii"),
    (12, "ujis"),
    (13, "sjis"),
    (14, "cp1251"),
    (15, "latin1"),
    (16, "hebrew"),
    (19, "euckr"),
    (22, "koi8u"),
    (23, "cp1251"),
    (24, "gb2312"),
    (25, "greek"),
    (26, "cp1250"),
    (28, "gbk"),
    (30, "latin5"),
    (31, "latin1"),
    (33, "utf8mb3"),
    (47, "latin1"),
    (48, "latin1"),
    (49, "latin1"),
    (50, "cp1251"),
    (51, "cp1251"),
    (57, "cp1256"),
    (59, "cp1257"),
    (63, "binary"),
    (83, "utf8mb3"),
    (84, "big5"),
    (87, "gbk"),
    (88, "sjis"),
    (94, "latin1"),
    (95, "cp932"),
    (97, "eucjpms"),
];

/// Character set names this server converts, with their encoding and default collation (id
/// and name).
const CHARSETS: &[(&str, &Encoding, u8, &str)] = &[
    ("ascii", encoding_rs::WINDOWS_1252, 11, "ascii_general_ci"),
    ("big5", encoding_rs::BIG5, 1, "big5_chinese_ci"),
    ("cp1250", encoding_rs::WINDOWS_1250, 26, "cp1250_general_ci"),
    ("cp1251", encoding_rs::WINDOWS_1251, 51, "cp1251_general_ci"),
    ("cp1256", encoding_rs::WINDOWS_1256, 57, "cp1256_general_ci"),
    ("cp1257", encoding_rs::WINDOWS_1257, 59, "cp1257_general_ci"),
    ("cp932", encoding_rs::SHIFT_JIS, 95, "cp932_japanese_ci"),
    ("eucjpms", encoding_rs::EUC_JP, 97, "eucjpms_japanese_ci"),
    ("euckr", encoding_rs::EUC_KR, 19, "euckr_korean_ci"),
    ("gb2312", encoding_rs::GBK, 24, "gb2312_chinese_ci"),
    ("gbk", encoding_rs::GBK, 28, "gbk_chinese_ci"),
    ("greek", encoding_rs::ISO_8859_7, 25, "greek_general_ci"),
    ("hebrew", encoding_rs::ISO_8859_8, 16, "hebrew_general_ci"),
    ("koi8r", encoding_rs::KOI8_R, 7, "koi8r_general_ci"),
    ("koi8u", encoding_rs::KOI8_U, 22, "koi8u_general_ci"),
    ("latin1", encoding_rs::WINDOWS_1252, 8, "latin1_swedish_ci"),
    ("latin2", encoding_rs::ISO_8859_2, 9, "latin2_general_ci"),
    ("latin5", encoding_rs::WINDOWS_1254, 30, "latin5_turkish_ci"),
    ("sjis", encoding_rs::SHIFT_JIS, 13, "sjis_japanese_ci"),
    ("ujis", encoding_rs::EUC_JP, 12, "ujis_japanese_ci"),
];

/// A connection character set other than UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charset {
    /// MySQL's name, e.g. `latin1`.
    pub name: &'static str,
    /// The id of its default collation, reported in column definitions.
    pub collation: u8,
    /// The name of that collation (`@@collation_connection`).
    pub collation_name: &'static str,
    encoding: &'static Encoding,
}

impl Charset {
    /// The character set MySQL calls `name` (any case), when this server converts it; `None`
    /// for the UTF-8 ones, `binary` and unknown names (which stay utf8mb4).
    pub fn named(name: &str) -> Option<Charset> {
        let name = name.trim().trim_matches(['\'', '"', '`']);
        CHARSETS
            .iter()
            .find(|(known, ..)| known.eq_ignore_ascii_case(name))
            .map(|&(name, encoding, collation, collation_name)| Charset {
                name,
                collation,
                collation_name,
                encoding,
            })
    }

    /// The character set of handshake collation `id`, when it is one this server converts.
    pub fn of_collation(id: u8) -> Option<Charset> {
        let (_, name) = COLLATIONS.iter().find(|(known, _)| *known == id)?;
        Charset::named(name)
    }

    /// `bytes` from this character set as UTF-8; unconvertible bytes become U+FFFD.
    pub fn decode<'b>(&self, bytes: &'b [u8]) -> std::borrow::Cow<'b, str> {
        self.encoding.decode_without_bom_handling(bytes).0
    }

    /// UTF-8 `text` in this character set; characters it lacks become `?`, as MySQL writes
    /// them.
    pub fn encode(&self, text: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(text.len());
        for c in text.chars() {
            let mut buf = [0u8; 4];
            let (bytes, _, unmappable) = self.encoding.encode(c.encode_utf8(&mut buf));
            if unmappable {
                out.push(b'?');
            } else {
                out.extend_from_slice(&bytes);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collations_and_names() {
        assert_eq!(Charset::of_collation(8).map(|c| c.name), Some("latin1"));
        assert_eq!(
            Charset::of_collation(45),
            None,
            "utf8mb4 needs no conversion"
        );
        assert_eq!(Charset::of_collation(33), None, "utf8mb3 is UTF-8 too");
        assert_eq!(Charset::named("'BIG5'").map(|c| c.collation), Some(1));
        assert_eq!(Charset::named("utf8mb4"), None);
    }

    #[test]
    fn round_trips() {
        let latin1 = Charset::named("latin1").expect("latin1");
        assert_eq!(latin1.decode(b"caf\xe9"), "café");
        assert_eq!(latin1.encode("café €"), b"caf\xe9 \x80");
        assert_eq!(latin1.encode("日"), b"?");
        let big5 = Charset::named("big5").expect("big5");
        assert_eq!(big5.decode(b"\xa4\x5c"), "么");
        assert_eq!(big5.encode("么"), b"\xa4\x5c");
    }
}
