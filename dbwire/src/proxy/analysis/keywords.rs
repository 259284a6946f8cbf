//! The words the analysis knows: how a digest writes them, and which statement keywords they
//! are. One case-insensitive lookup per word, in a hash table built at compile time.

/// How a known word appears in a digest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// Upper-cased, spaced from a following `(`: `IN (`, `AND (`.
    Keyword,
    /// Upper-cased, written against a following `(`: `COUNT(*)`, `VARCHAR(255)`.
    Function,
    /// Upper-cased and a value: `NULL`, `TRUE`, `FALSE`.
    Value,
    /// Known to the analysis but often an identifier (`role`, `value`): written as is.
    Plain,
}

/// The statement keywords and functions the analysis acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kw {
    /// Not a keyword the analysis acts on; the other variants are the words they name.
    None,
    Alter,
    Analyze,
    Begin,
    Call,
    Chain,
    Character,
    Charset,
    Commit,
    Count,
    Create,
    Deallocate,
    Default,
    Delete,
    Desc,
    Describe,
    Drop,
    Errors,
    Event,
    Execute,
    Explain,
    Flush,
    For,
    FoundRows,
    Function,
    GetLock,
    Global,
    Handler,
    Help,
    In,
    Insert,
    Instance,
    Into,
    IsFreeLock,
    IsUsedLock,
    Isolation,
    LastInsertId,
    Lastval,
    Local,
    Lock,
    Names,
    Nextval,
    No,
    Not,
    Password,
    Persist,
    PersistOnly,
    Prepare,
    Procedure,
    Profile,
    Profiles,
    Read,
    ReleaseAllLocks,
    ReleaseLock,
    Replace,
    Resource,
    Role,
    Rollback,
    Row,
    RowCount,
    Select,
    Session,
    Set,
    Setval,
    Share,
    Show,
    SqlCalcFoundRows,
    Start,
    Statement,
    Table,
    Tables,
    Temporary,
    To,
    Transaction,
    Trigger,
    Unlock,
    Update,
    Use,
    Value,
    Values,
    View,
    Warnings,
    With,
    Xa,
}

/// A known word.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry {
    /// The word, upper-case.
    pub name: &'static str,
    /// How a digest writes it.
    pub class: Class,
    /// The keyword it is to the analysis ([`Kw::None`] for most).
    pub kw: Kw,
    /// The word's [`Folded`] form, to compare with.
    folded: Folded,
}

/// MySQL 8 reserved words that are not functions or types, and common non-reserved keywords
/// that are rarely identifiers.
#[rustfmt::skip]
const KEYWORDS: &[&str] = &[
    "ACCESSIBLE", "ACTION", "ADD", "AFTER", "AGAINST", "ALGORITHM", "ALL", "ALTER", "ANALYZE",
    "AND", "ANY", "AS", "ASC", "ASENSITIVE", "AUTO_INCREMENT", "BEFORE", "BEGIN", "BETWEEN",
    "BOTH", "BTREE", "BY", "CALL", "CASCADE", "CASCADED", "CASE", "CHANGE", "CHARACTER",
    "CHARSET", "CHECK", "COLLATE", "COLLATION", "COLUMN", "COLUMNS", "COMMIT", "COMMITTED",
    "CONDITION", "CONSISTENT", "CONSTRAINT", "CONTINUE", "CREATE", "CROSS", "CUBE", "CURSOR",
    "DATABASES", "DAY_HOUR", "DAY_MICROSECOND", "DAY_MINUTE", "DAY_SECOND", "DEALLOCATE",
    "DECLARE", "DEFAULT", "DELAYED", "DELETE", "DESC", "DESCRIBE", "DETERMINISTIC", "DISABLE",
    "DISTINCT", "DISTINCTROW", "DIV", "DO", "DROP", "DUAL", "DUPLICATE", "EACH", "ELSE",
    "ELSEIF", "EMPTY", "ENABLE", "ENCLOSED", "END", "ENGINE", "ENGINES", "ERRORS", "ESCAPE",
    "ESCAPED", "EXCEPT", "EXECUTE", "EXISTS", "EXIT", "EXPLAIN", "EXTENDED", "FETCH", "FIELDS",
    "FLUSH", "FOLLOWING", "FOR", "FORCE", "FOREIGN", "FROM", "FULL", "FULLTEXT", "FUNCTION",
    "GENERATED", "GET", "GLOBAL", "GRANT", "GROUP", "GROUPS", "HANDLER", "HAVING", "HELP",
    "HIGH_PRIORITY", "HOUR_MICROSECOND", "HOUR_MINUTE", "HOUR_SECOND", "IGNORE", "IN", "INDEX",
    "INDEXES", "INFILE", "INNER", "INOUT", "INPLACE", "INSENSITIVE", "INTERSECT", "INTERVAL",
    "INTO", "INVOKER", "IS", "ISOLATION", "ITERATE", "JOIN", "KEY", "KEYS", "KILL", "LATERAL",
    "LEADING", "LEAVE", "LEVEL", "LIKE", "LIMIT", "LINEAR", "LINES", "LOAD", "LOCAL", "LOCK",
    "LOCKED", "LONG", "LOOP", "LOW_PRIORITY", "MAXVALUE", "MERGE", "MINUTE_MICROSECOND",
    "MINUTE_SECOND", "MODE", "MODIFIES", "NAMES", "NATURAL", "NOT", "NOWAIT",
    "NO_WRITE_TO_BINLOG", "OF", "OFFSET", "ON", "ONLY", "OPTIMIZE", "OPTION", "OPTIONALLY", "OR",
    "ORDER", "OUT", "OUTER", "OUTFILE", "OVER", "PARTITION", "PRECEDING", "PRECISION", "PREPARE",
    "PRIMARY", "PROCEDURE", "PROCESSLIST", "PURGE", "RANGE", "READ", "READS", "READ_WRITE",
    "RECURSIVE", "REFERENCES", "REGEXP", "RELEASE", "RENAME", "REPEATABLE", "REQUIRE",
    "RESIGNAL", "RESTRICT", "RETURN", "REVOKE", "RLIKE", "ROLLBACK", "ROLLUP", "ROWS",
    "SAVEPOINT", "SCHEMAS", "SECOND_MICROSECOND", "SECURITY", "SELECT", "SENSITIVE",
    "SEPARATOR", "SERIALIZABLE", "SESSION", "SET", "SHARE", "SHOW", "SIGNAL", "SKIP",
    "SNAPSHOT", "SPATIAL", "SPECIFIC", "SQL", "SQLEXCEPTION", "SQLSTATE", "SQLWARNING",
    "SQL_BIG_RESULT", "SQL_BUFFER_RESULT", "SQL_CACHE", "SQL_CALC_FOUND_ROWS", "SQL_NO_CACHE",
    "SQL_SMALL_RESULT", "SSL", "START", "STARTING", "STORED", "STRAIGHT_JOIN", "TABLE", "TABLES",
    "TEMPORARY", "TEMPTABLE", "TERMINATED", "THEN", "TO", "TRAILING", "TRANSACTION", "TRIGGER",
    "TRUNCATE", "UNBOUNDED", "UNCOMMITTED", "UNDEFINED", "UNDO", "UNION", "UNIQUE", "UNLOCK",
    "UNSIGNED", "UPDATE", "USAGE", "USE", "USING", "VALUES", "VARIABLES", "VARYING", "VIEW",
    "VIRTUAL", "WARNINGS", "WHEN", "WHERE", "WHILE", "WINDOW", "WITH", "WORK", "WRITE", "XA",
    "XOR", "YEAR_MONTH", "ZEROFILL",
];

/// Functions and types: written against their `(`.
#[rustfmt::skip]
const FUNCTIONS: &[&str] = &[
    "ABS", "AVG", "BIGINT", "BINARY", "BIT_AND", "BIT_OR", "BLOB", "CAST", "CEIL", "CEILING",
    "CHAR", "CHAR_LENGTH", "COALESCE", "CONCAT", "CONCAT_WS", "CONNECTION_ID", "CONVERT",
    "COUNT", "CUME_DIST", "CURDATE", "CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP",
    "CURRENT_USER", "CURTIME", "DATABASE", "DATEDIFF", "DATE_ADD", "DATE_FORMAT", "DATE_SUB",
    "DEC", "DECIMAL", "DENSE_RANK", "DOUBLE", "FIND_IN_SET", "FIRST_VALUE", "FLOAT", "FLOOR",
    "FOUND_ROWS", "FROM_UNIXTIME", "GET_LOCK", "GREATEST", "GROUPING", "GROUP_CONCAT", "HEX",
    "IF", "IFNULL", "INET_ATON", "INET_NTOA", "INSERT", "INSTR", "INT", "INTEGER", "ISNULL",
    "IS_FREE_LOCK", "IS_USED_LOCK", "JSON_ARRAY", "JSON_CONTAINS", "JSON_EXTRACT", "JSON_OBJECT",
    "JSON_TABLE", "JSON_UNQUOTE", "LAG", "LASTVAL", "LAST_INSERT_ID", "LAST_VALUE", "LCASE",
    "LEAD", "LEAST", "LEFT", "LENGTH", "LOCALTIME", "LOCALTIMESTAMP", "LOCATE", "LONGBLOB",
    "LONGTEXT", "LOWER", "LPAD", "LTRIM", "MATCH", "MAX", "MD5", "MEDIUMBLOB", "MEDIUMINT",
    "MEDIUMTEXT", "MIN", "MOD", "NEXTVAL", "NOW", "NTH_VALUE", "NTILE", "NULLIF", "NUMERIC",
    "PERCENT_RANK", "RAND", "RANK", "REAL", "RELEASE_ALL_LOCKS", "RELEASE_LOCK", "REPEAT",
    "REPLACE", "RIGHT", "ROUND", "ROW", "ROW_COUNT", "ROW_NUMBER", "RPAD", "RTRIM", "SCHEMA",
    "SETVAL", "SHA1", "SHA2", "SLEEP", "SMALLINT", "SUBSTR", "SUBSTRING", "SUBSTRING_INDEX",
    "SUM", "SYSDATE", "TIMESTAMPDIFF", "TINYBLOB", "TINYINT", "TINYTEXT", "TRIM", "UCASE",
    "UNHEX", "UNIX_TIMESTAMP", "UPPER", "UTC_DATE", "UTC_TIME", "UTC_TIMESTAMP", "UUID",
    "VARBINARY", "VARCHAR", "VERSION",
];

/// Literal keywords.
const VALUES: &[&str] = &["FALSE", "NULL", "TRUE"];

/// Words the analysis needs that are common identifiers.
#[rustfmt::skip]
const PLAIN: &[&str] = &[
    "CHAIN", "EVENT", "INSTANCE", "NO", "PASSWORD", "PERSIST", "PERSIST_ONLY",
    "PROFILE", "PROFILES", "RESOURCE", "ROLE", "STATEMENT", "VALUE",
];

/// The analysis keywords; each word must be in one of the lists above.
const ANALYSIS: &[(&str, Kw)] = &[
    ("ALTER", Kw::Alter),
    ("ANALYZE", Kw::Analyze),
    ("BEGIN", Kw::Begin),
    ("CALL", Kw::Call),
    ("CHAIN", Kw::Chain),
    ("CHARACTER", Kw::Character),
    ("CHARSET", Kw::Charset),
    ("COMMIT", Kw::Commit),
    ("COUNT", Kw::Count),
    ("CREATE", Kw::Create),
    ("DEALLOCATE", Kw::Deallocate),
    ("DEFAULT", Kw::Default),
    ("DELETE", Kw::Delete),
    ("DESC", Kw::Desc),
    ("DESCRIBE", Kw::Describe),
    ("DROP", Kw::Drop),
    ("ERRORS", Kw::Errors),
    ("EVENT", Kw::Event),
    ("EXECUTE", Kw::Execute),
    ("EXPLAIN", Kw::Explain),
    ("FLUSH", Kw::Flush),
    ("FOR", Kw::For),
    ("FOUND_ROWS", Kw::FoundRows),
    ("FUNCTION", Kw::Function),
    ("GET_LOCK", Kw::GetLock),
    ("GLOBAL", Kw::Global),
    ("HANDLER", Kw::Handler),
    ("HELP", Kw::Help),
    ("IN", Kw::In),
    ("INSERT", Kw::Insert),
    ("INSTANCE", Kw::Instance),
    ("INTO", Kw::Into),
    ("IS_FREE_LOCK", Kw::IsFreeLock),
    ("IS_USED_LOCK", Kw::IsUsedLock),
    ("ISOLATION", Kw::Isolation),
    ("LAST_INSERT_ID", Kw::LastInsertId),
    ("LASTVAL", Kw::Lastval),
    ("LOCAL", Kw::Local),
    ("LOCK", Kw::Lock),
    ("NAMES", Kw::Names),
    ("NEXTVAL", Kw::Nextval),
    ("NO", Kw::No),
    ("NOT", Kw::Not),
    ("PASSWORD", Kw::Password),
    ("PERSIST", Kw::Persist),
    ("PERSIST_ONLY", Kw::PersistOnly),
    ("PREPARE", Kw::Prepare),
    ("PROCEDURE", Kw::Procedure),
    ("PROFILE", Kw::Profile),
    ("PROFILES", Kw::Profiles),
    ("READ", Kw::Read),
    ("RELEASE_ALL_LOCKS", Kw::ReleaseAllLocks),
    ("RELEASE_LOCK", Kw::ReleaseLock),
    ("REPLACE", Kw::Replace),
    ("RESOURCE", Kw::Resource),
    ("ROLE", Kw::Role),
    ("ROLLBACK", Kw::Rollback),
    ("ROW", Kw::Row),
    ("ROW_COUNT", Kw::RowCount),
    ("SELECT", Kw::Select),
    ("SESSION", Kw::Session),
    ("SET", Kw::Set),
    ("SETVAL", Kw::Setval),
    ("SHARE", Kw::Share),
    ("SHOW", Kw::Show),
    ("SQL_CALC_FOUND_ROWS", Kw::SqlCalcFoundRows),
    ("START", Kw::Start),
    ("STATEMENT", Kw::Statement),
    ("TABLE", Kw::Table),
    ("TABLES", Kw::Tables),
    ("TEMPORARY", Kw::Temporary),
    ("TO", Kw::To),
    ("TRANSACTION", Kw::Transaction),
    ("TRIGGER", Kw::Trigger),
    ("UNLOCK", Kw::Unlock),
    ("UPDATE", Kw::Update),
    ("USE", Kw::Use),
    ("VALUE", Kw::Value),
    ("VALUES", Kw::Values),
    ("VIEW", Kw::View),
    ("WARNINGS", Kw::Warnings),
    ("WITH", Kw::With),
    ("XA", Kw::Xa),
];

/// Slots of the lookup index: a power of two, mostly empty so that most identifiers miss at
/// the first slot.
const SLOT_BITS: u32 = 12;
const SLOTS: usize = 1 << SLOT_BITS;

/// Longer words are not in the table.
const MAX_WORD: usize = 20;

const WORD_COUNT: usize = KEYWORDS.len() + FUNCTIONS.len() + VALUES.len() + PLAIN.len();

/// Every known word.
static ENTRIES: [Entry; WORD_COUNT] = entries();

/// Open-addressing index into [`ENTRIES`]: 0 is an empty slot, `i + 1` is entry `i`.
static INDEX: [u16; SLOTS] = index(&entries());

const _: () = assert!(WORD_COUNT * 4 < SLOTS, "keyword index over a quarter full");

/// The entry for `word` (any case), if it is a known word.
pub(crate) fn lookup(word: &str) -> Option<&'static Entry> {
    let bytes = word.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_WORD {
        return None;
    }
    let folded = Folded::of(bytes);
    let mut slot = folded.slot();
    loop {
        let entry = ENTRIES.get(usize::from(INDEX[slot]).checked_sub(1)?)?;
        if entry.folded == folded
            && (bytes.len() <= 16 || entry.name.as_bytes().eq_ignore_ascii_case(bytes))
        {
            return Some(entry);
        }
        slot = (slot + 1) & (SLOTS - 1);
    }
}

/// The analysis keyword `word` is, or [`Kw::None`].
pub(crate) fn kw(word: &str) -> Kw {
    lookup(word).map_or(Kw::None, |entry| entry.kw)
}

/// A word's length and its first and last (up to) eight bytes, little-endian, each byte
/// ORed with 0x20. Over the bytes a word can hold (ASCII letters, digits, `_`, `$`, non-ASCII)
/// that OR only folds ASCII case, so for words of up to 16 bytes equal `Folded` forms mean
/// equal words but for case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Folded {
    len: usize,
    head: u64,
    tail: u64,
}

const FOLD: u64 = 0x2020_2020_2020_2020;

impl Folded {
    /// At run time: whole-word loads.
    fn of(bytes: &[u8]) -> Folded {
        let len = bytes.len();
        let (head, tail) = match (bytes.first_chunk::<8>(), bytes.last_chunk::<8>()) {
            (Some(head), Some(tail)) => (u64::from_le_bytes(*head), u64::from_le_bytes(*tail)),
            _ => {
                let short = load_short(bytes);
                (short, short)
            }
        };
        Folded {
            len,
            head: head | FOLD,
            tail: tail | FOLD,
        }
    }

    /// At compile time: byte by byte, to the same result.
    const fn of_const(bytes: &[u8]) -> Folded {
        let len = bytes.len();
        let width = if len < 8 { len } else { 8 };
        Folded {
            len,
            head: load_const(bytes, 0, width) | FOLD,
            tail: load_const(bytes, len - width, width) | FOLD,
        }
    }

    /// The word's first slot in [`INDEX`].
    const fn slot(&self) -> usize {
        let mixed = (self.head ^ self.tail.rotate_left(29) ^ self.len as u64)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
        (mixed >> (64 - SLOT_BITS)) as usize
    }
}

/// Up to seven bytes, little-endian, zero-padded, from overlapping loads.
fn load_short(bytes: &[u8]) -> u64 {
    let len = bytes.len();
    if let (Some(low), Some(high)) = (bytes.first_chunk::<4>(), bytes.last_chunk::<4>()) {
        let low = u64::from(u32::from_le_bytes(*low));
        let high = u64::from(u32::from_le_bytes(*high));
        return low | high << (8 * (len - 4));
    }
    let byte = |at: usize| u64::from(bytes.get(at).copied().unwrap_or(0)) << (8 * at);
    byte(0) | byte(len / 2) | byte(len.saturating_sub(1))
}

/// `width` bytes from `from`, little-endian, zero-padded.
const fn load_const(bytes: &[u8], from: usize, width: usize) -> u64 {
    let mut value = 0_u64;
    let mut i = 0;
    while i < width {
        value |= (bytes[from + i] as u64) << (8 * i);
        i += 1;
    }
    value
}

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// The words of all lists, with their analysis keywords.
const fn entries() -> [Entry; WORD_COUNT] {
    let lists: [(&[&str], Class); 4] = [
        (KEYWORDS, Class::Keyword),
        (FUNCTIONS, Class::Function),
        (VALUES, Class::Value),
        (PLAIN, Class::Plain),
    ];
    let empty = Entry {
        name: "",
        class: Class::Plain,
        kw: Kw::None,
        folded: Folded::of_const(b""),
    };
    let mut entries = [empty; WORD_COUNT];
    let mut count = 0;
    let mut list = 0;
    while list < lists.len() {
        let (words, class) = lists[list];
        let mut i = 0;
        while i < words.len() {
            assert!(words[i].len() <= MAX_WORD, "keyword longer than MAX_WORD");
            entries[count] = Entry {
                name: words[i],
                class,
                kw: analysis_kw(words[i]),
                folded: Folded::of_const(words[i].as_bytes()),
            };
            count += 1;
            i += 1;
        }
        list += 1;
    }
    entries
}

const fn analysis_kw(word: &str) -> Kw {
    let mut i = 0;
    while i < ANALYSIS.len() {
        if same(ANALYSIS[i].0, word) {
            return ANALYSIS[i].1;
        }
        i += 1;
    }
    Kw::None
}

const fn index(entries: &[Entry; WORD_COUNT]) -> [u16; SLOTS] {
    let mut index = [0_u16; SLOTS];
    let mut i = 0;
    while i < WORD_COUNT {
        let mut slot = entries[i].folded.slot();
        while index[slot] != 0 {
            assert!(
                !same(entries[index[slot] as usize - 1].name, entries[i].name),
                "keyword listed twice"
            );
            slot = (slot + 1) & (SLOTS - 1);
        }
        index[slot] = i as u16 + 1;
        i += 1;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_ignore_case() {
        let select = lookup("sElEcT").map(|e| (e.name, e.class, e.kw));
        assert_eq!(select, Some(("SELECT", Class::Keyword, Kw::Select)));
        assert_eq!(lookup("count").map(|e| e.class), Some(Class::Function));
        assert_eq!(lookup("null").map(|e| e.class), Some(Class::Value));
        assert_eq!(kw("role"), Kw::Role);
        assert!(lookup("wp_posts").is_none());
        assert!(lookup("").is_none());
        assert!(lookup("a_very_long_identifier_name").is_none());
    }

    #[test]
    fn every_listed_word_is_found() {
        for word in KEYWORDS.iter().chain(FUNCTIONS).chain(VALUES).chain(PLAIN) {
            assert_eq!(lookup(word).map(|e| e.name), Some(*word));
            assert_eq!(
                lookup(&word.to_ascii_lowercase()).map(|e| e.name),
                Some(*word)
            );
        }
        for (word, keyword) in ANALYSIS {
            assert_eq!(kw(word), *keyword, "{word}");
        }
        assert_eq!(kw("WP_POSTS"), Kw::None);
        assert_eq!(kw("SQL_CALC_FOUND_ROWZ"), Kw::None);
        assert_eq!(kw("sql_calc_found_rows"), Kw::SqlCalcFoundRows);
    }

    #[test]
    fn folding_at_run_time_matches_compile_time() {
        for word in [
            "", "a", "ab", "abc", "abcd", "abcde", "abcdefg", "abcdefgh", "é", "x_1$",
        ] {
            let bytes = word.as_bytes();
            assert_eq!(Folded::of(bytes), Folded::of_const(bytes), "{word}");
        }
    }
}
