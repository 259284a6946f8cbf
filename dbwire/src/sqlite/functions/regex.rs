//! A small regular-expression engine for MySQL's `REGEXP` / `RLIKE`.
//!
//! Patterns are compiled to a Thompson NFA and run as a Pike VM, so matching takes time linear
//! in the text and never recurses on it: a hostile pattern cannot blow the stack or hang the
//! server. Only "does it match anywhere" is answered; there are no captures.
//!
//! Supported syntax (the subset MySQL applications use): literals, `.`, `^`, `$`, `|`,
//! groups `( )` and `(?: )`, quantifiers `* + ? {n} {n,} {n,m}` (with optional lazy `?`, which
//! does not change whether a match exists), bracket expressions with ranges, negation and
//! POSIX classes (`[[:alpha:]]`, ...), MySQL's legacy word boundaries `[[:<:]]` / `[[:>:]]`,
//! and the escapes `\d \D \w \W \s \S \b \B`. Matching is case-insensitive, as MySQL's is for
//! text compared with a `_ci` collation.

use thiserror::Error;

/// The most NFA instructions one pattern may compile to (bounds `{n,m}` expansion).
const MAX_PROGRAM: usize = 20_000;

/// Why a pattern was rejected.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum RegexError {
    /// The pattern is malformed at the given character offset.
    #[error("invalid regular expression at offset {offset}: {reason}")]
    Syntax {
        /// Character offset of the problem.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// The pattern expands to too many states (huge counted repetitions).
    #[error("regular expression is too large")]
    TooLarge,
}

/// A compiled pattern.
#[derive(Debug, Clone)]
pub struct Regex {
    program: Vec<Inst>,
}

impl Regex {
    /// Compiles `pattern`.
    pub fn new(pattern: &str) -> Result<Regex, RegexError> {
        let chars: Vec<char> = pattern.chars().collect();
        let mut parser = Parser {
            chars: &chars,
            pos: 0,
        };
        let ast = parser.alternation()?;
        if parser.pos < chars.len() {
            return Err(parser.error("unmatched ')'"));
        }
        let mut compiler = Compiler {
            program: Vec::new(),
        };
        compiler.emit_node(&ast)?;
        compiler.push(Inst::Match)?;
        Ok(Regex {
            program: compiler.program,
        })
    }

    /// True when the pattern matches somewhere in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        let mut current = ThreadList::new(self.program.len());
        let mut next = ThreadList::new(self.program.len());
        for position in 0..=chars.len() {
            // Unanchored search: a new thread starts at every position.
            self.add_thread(&mut current, 0, &chars, position);
            if current.contains_match(&self.program) {
                return true;
            }
            let Some(&c) = chars.get(position) else { break };
            next.clear();
            for &pc in &current.pcs {
                let advances = match &self.program[pc] {
                    Inst::Char(expected) => chars_equal_folded(*expected, c),
                    Inst::Any => c != '\n',
                    Inst::Class(class) => class.matches(c),
                    _ => false,
                };
                if advances {
                    self.add_thread(&mut next, pc + 1, &chars, position + 1);
                }
            }
            std::mem::swap(&mut current, &mut next);
        }
        false
    }

    /// Adds `start` and everything reachable from it without consuming input.
    fn add_thread(&self, list: &mut ThreadList, start: usize, text: &[char], position: usize) {
        let mut stack = vec![start];
        while let Some(pc) = stack.pop() {
            if !list.insert(pc) {
                continue;
            }
            match &self.program[pc] {
                Inst::Jump(target) => stack.push(*target),
                Inst::Split(first, second) => {
                    stack.push(*second);
                    stack.push(*first);
                }
                Inst::Assert(assertion) if assertion.holds(text, position) => stack.push(pc + 1),
                _ => {}
            }
        }
    }
}

/// The set of live NFA states, in insertion order.
struct ThreadList {
    pcs: Vec<usize>,
    present: Vec<bool>,
}

impl ThreadList {
    fn new(size: usize) -> ThreadList {
        ThreadList {
            pcs: Vec::with_capacity(size),
            present: vec![false; size],
        }
    }

    fn insert(&mut self, pc: usize) -> bool {
        if self.present[pc] {
            return false;
        }
        self.present[pc] = true;
        self.pcs.push(pc);
        true
    }

    fn clear(&mut self) {
        for &pc in &self.pcs {
            self.present[pc] = false;
        }
        self.pcs.clear();
    }

    fn contains_match(&self, program: &[Inst]) -> bool {
        self.pcs
            .iter()
            .any(|&pc| matches!(program[pc], Inst::Match))
    }
}

/// One NFA instruction.
#[derive(Debug, Clone)]
enum Inst {
    Char(char),
    Any,
    Class(CharClass),
    Split(usize, usize),
    Jump(usize),
    Assert(Assertion),
    Match,
}

/// A zero-width condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Assertion {
    Start,
    End,
    WordBoundary,
    NotWordBoundary,
    WordStart,
    WordEnd,
}

impl Assertion {
    fn holds(self, text: &[char], position: usize) -> bool {
        let before = position
            .checked_sub(1)
            .and_then(|i| text.get(i))
            .is_some_and(|c| is_word(*c));
        let after = text.get(position).is_some_and(|c| is_word(*c));
        match self {
            Assertion::Start => position == 0,
            Assertion::End => position == text.len(),
            Assertion::WordBoundary => before != after,
            Assertion::NotWordBoundary => before == after,
            Assertion::WordStart => !before && after,
            Assertion::WordEnd => before && !after,
        }
    }
}

/// A bracket expression or a class escape.
#[derive(Debug, Clone, Default)]
struct CharClass {
    negated: bool,
    ranges: Vec<(char, char)>,
    named: Vec<NamedClass>,
}

impl CharClass {
    fn matches(&self, c: char) -> bool {
        let lower = fold(c);
        let upper = c.to_uppercase().next().unwrap_or(c);
        let hit = [c, lower, upper].iter().any(|&candidate| {
            self.ranges
                .iter()
                .any(|&(from, to)| from <= candidate && candidate <= to)
                || self.named.iter().any(|named| named.matches(candidate))
        });
        hit != self.negated
    }

    fn of(named: NamedClass, negated: bool) -> CharClass {
        CharClass {
            negated,
            ranges: Vec::new(),
            named: vec![named],
        }
    }
}

/// POSIX / escape classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NamedClass {
    Alpha,
    Digit,
    Alnum,
    Word,
    Space,
    Upper,
    Lower,
    Punct,
    Xdigit,
    Cntrl,
    Print,
    Graph,
    Blank,
}

impl NamedClass {
    fn from_name(name: &str) -> Option<NamedClass> {
        Some(match name {
            "alpha" => NamedClass::Alpha,
            "digit" => NamedClass::Digit,
            "alnum" => NamedClass::Alnum,
            "space" => NamedClass::Space,
            "upper" => NamedClass::Upper,
            "lower" => NamedClass::Lower,
            "punct" => NamedClass::Punct,
            "xdigit" => NamedClass::Xdigit,
            "cntrl" => NamedClass::Cntrl,
            "print" => NamedClass::Print,
            "graph" => NamedClass::Graph,
            "blank" => NamedClass::Blank,
            _ => return None,
        })
    }

    fn matches(self, c: char) -> bool {
        match self {
            NamedClass::Alpha => c.is_alphabetic(),
            NamedClass::Digit => c.is_ascii_digit(),
            NamedClass::Alnum => c.is_alphanumeric(),
            NamedClass::Word => is_word(c),
            NamedClass::Space => c.is_whitespace(),
            // Case-insensitive matching makes upper and lower both mean "a letter with case".
            NamedClass::Upper | NamedClass::Lower => c.is_uppercase() || c.is_lowercase(),
            NamedClass::Punct => c.is_ascii_punctuation(),
            NamedClass::Xdigit => c.is_ascii_hexdigit(),
            NamedClass::Cntrl => c.is_control(),
            NamedClass::Print => !c.is_control(),
            NamedClass::Graph => !c.is_control() && !c.is_whitespace(),
            NamedClass::Blank => c == ' ' || c == '\t',
        }
    }
}

/// The parsed pattern.
#[derive(Debug, Clone)]
enum Node {
    Empty,
    Char(char),
    Any,
    Class(CharClass),
    Assert(Assertion),
    Concat(Vec<Node>),
    Alternate(Vec<Node>),
    Repeat {
        node: Box<Node>,
        min: u32,
        max: Option<u32>,
    },
}

/// Recursive-descent parser over the pattern's characters. Nesting depth is bounded by the
/// pattern length, which MySQL applications keep short.
struct Parser<'a> {
    chars: &'a [char],
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, reason: &'static str) -> RegexError {
        RegexError::Syntax {
            offset: self.pos,
            reason,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn eat(&mut self, expected: char) -> bool {
        if self.peek() == Some(expected) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn alternation(&mut self) -> Result<Node, RegexError> {
        let mut branches = vec![self.concatenation()?];
        while self.eat('|') {
            branches.push(self.concatenation()?);
        }
        Ok(if branches.len() == 1 {
            branches.remove(0)
        } else {
            Node::Alternate(branches)
        })
    }

    fn concatenation(&mut self) -> Result<Node, RegexError> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom()?;
            items.push(self.quantified(atom)?);
        }
        Ok(match items.len() {
            0 => Node::Empty,
            1 => items.remove(0),
            _ => Node::Concat(items),
        })
    }

    fn quantified(&mut self, atom: Node) -> Result<Node, RegexError> {
        let mut node = atom;
        loop {
            let (min, max) = match self.peek() {
                Some('*') => self.single_quantifier(0, None),
                Some('+') => self.single_quantifier(1, None),
                Some('?') => self.single_quantifier(0, Some(1)),
                Some('{') => match self.counted()? {
                    Some(bounds) => bounds,
                    None => return Ok(node),
                },
                _ => return Ok(node),
            };
            if matches!(node, Node::Assert(_) | Node::Empty) {
                return Err(self.error("nothing to repeat"));
            }
            // A lazy marker changes which match is found, not whether one exists.
            self.eat('?');
            node = Node::Repeat {
                node: Box::new(node),
                min,
                max,
            };
        }
    }

    /// Moves past a one-character quantifier and returns its bounds.
    fn single_quantifier(&mut self, min: u32, max: Option<u32>) -> (u32, Option<u32>) {
        self.pos += 1;
        (min, max)
    }

    /// Parses `{n}`, `{n,}` or `{n,m}` at the cursor and moves past it; `None` (cursor kept)
    /// when the brace does not start a valid count, in which case it is a literal.
    fn counted(&mut self) -> Result<Option<(u32, Option<u32>)>, RegexError> {
        let start = self.pos;
        self.pos += 1;
        let min = self.number();
        let max = if self.eat(',') { self.number() } else { min };
        let bounded = self.eat('}');
        match (min, bounded) {
            (Some(min), true) => {
                let unbounded = self.chars[start..self.pos].contains(&',') && max.is_none();
                let max = if unbounded { None } else { max };
                if max.is_some_and(|max| max < min) {
                    return Err(self.error("bad repetition bounds"));
                }
                Ok(Some((min, max)))
            }
            _ => {
                self.pos = start;
                Ok(None)
            }
        }
    }

    fn number(&mut self) -> Option<u32> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits: String = self.chars[start..self.pos].iter().collect();
        digits.parse().ok()
    }

    fn atom(&mut self) -> Result<Node, RegexError> {
        let Some(c) = self.peek() else {
            return Err(self.error("unexpected end of pattern"));
        };
        self.pos += 1;
        Ok(match c {
            '.' => Node::Any,
            '^' => Node::Assert(Assertion::Start),
            '$' => Node::Assert(Assertion::End),
            '(' => {
                if self.peek() == Some('?') {
                    self.pos += 1;
                    if !self.eat(':') {
                        return Err(self.error("unsupported group flag"));
                    }
                }
                let inner = self.alternation()?;
                if !self.eat(')') {
                    return Err(self.error("missing ')'"));
                }
                inner
            }
            '[' => self.bracket()?,
            '\\' => self.escape()?,
            '*' | '+' | '?' => return Err(self.error("nothing to repeat")),
            '{' if self.peek().is_some_and(|c| c.is_ascii_digit()) => {
                return Err(self.error("nothing to repeat"))
            }
            literal => Node::Char(literal),
        })
    }

    fn escape(&mut self) -> Result<Node, RegexError> {
        let Some(c) = self.peek() else {
            return Err(self.error("trailing backslash"));
        };
        self.pos += 1;
        Ok(match c {
            'd' => Node::Class(CharClass::of(NamedClass::Digit, false)),
            'D' => Node::Class(CharClass::of(NamedClass::Digit, true)),
            'w' => Node::Class(CharClass::of(NamedClass::Word, false)),
            'W' => Node::Class(CharClass::of(NamedClass::Word, true)),
            's' => Node::Class(CharClass::of(NamedClass::Space, false)),
            'S' => Node::Class(CharClass::of(NamedClass::Space, true)),
            'b' => Node::Assert(Assertion::WordBoundary),
            'B' => Node::Assert(Assertion::NotWordBoundary),
            'n' => Node::Char('\n'),
            't' => Node::Char('\t'),
            'r' => Node::Char('\r'),
            other => Node::Char(other),
        })
    }

    /// Parses a bracket expression; the opening `[` is consumed.
    fn bracket(&mut self) -> Result<Node, RegexError> {
        if let Some(assertion) = self.word_boundary_class() {
            return Ok(Node::Assert(assertion));
        }
        let mut class = CharClass {
            negated: self.eat('^'),
            ..CharClass::default()
        };
        let mut first = true;
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error("missing ']'"));
            };
            if c == ']' && !first {
                self.pos += 1;
                break;
            }
            first = false;
            if c == '[' && self.chars.get(self.pos + 1) == Some(&':') {
                class.named.push(self.posix_class()?);
                continue;
            }
            self.pos += 1;
            let from = if c == '\\' {
                self.bracket_escape(&mut class)?
            } else {
                Some(c)
            };
            let Some(from) = from else { continue };
            let is_range =
                self.peek() == Some('-') && self.chars.get(self.pos + 1).is_some_and(|&n| n != ']');
            if is_range {
                self.pos += 1;
                let to = self.peek().ok_or_else(|| self.error("missing ']'"))?;
                self.pos += 1;
                if to < from {
                    return Err(self.error("bad character range"));
                }
                class.ranges.push((from, to));
            } else {
                class.ranges.push((from, from));
            }
        }
        Ok(Node::Class(class))
    }

    /// `\d`-style escapes inside brackets add to the class; other escapes are literals.
    fn bracket_escape(&mut self, class: &mut CharClass) -> Result<Option<char>, RegexError> {
        let c = self
            .peek()
            .ok_or_else(|| self.error("trailing backslash"))?;
        self.pos += 1;
        let named = match c {
            'd' => NamedClass::Digit,
            'w' => NamedClass::Word,
            's' => NamedClass::Space,
            'n' => return Ok(Some('\n')),
            't' => return Ok(Some('\t')),
            other => return Ok(Some(other)),
        };
        class.named.push(named);
        Ok(None)
    }

    /// `[[:<:]]` and `[[:>:]]`, MySQL's legacy word-boundary markers.
    fn word_boundary_class(&mut self) -> Option<Assertion> {
        let rest: String = self.chars[self.pos..].iter().take(5).collect();
        let assertion = match rest.as_str() {
            "[:<:]" => Assertion::WordStart,
            "[:>:]" => Assertion::WordEnd,
            _ => return None,
        };
        if self.chars.get(self.pos + 5) != Some(&']') {
            return None;
        }
        self.pos += 6;
        Some(assertion)
    }

    fn posix_class(&mut self) -> Result<NamedClass, RegexError> {
        self.pos += 2;
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
            self.pos += 1;
        }
        let name: String = self.chars[start..self.pos].iter().collect();
        if !(self.eat(':') && self.eat(']')) {
            return Err(self.error("malformed character class"));
        }
        NamedClass::from_name(&name).ok_or_else(|| self.error("unknown character class"))
    }
}

/// Emits NFA instructions for the parsed pattern.
struct Compiler {
    program: Vec<Inst>,
}

impl Compiler {
    fn push(&mut self, inst: Inst) -> Result<usize, RegexError> {
        if self.program.len() >= MAX_PROGRAM {
            return Err(RegexError::TooLarge);
        }
        self.program.push(inst);
        Ok(self.program.len() - 1)
    }

    fn emit_node(&mut self, node: &Node) -> Result<(), RegexError> {
        match node {
            Node::Empty => {}
            Node::Char(c) => {
                self.push(Inst::Char(*c))?;
            }
            Node::Any => {
                self.push(Inst::Any)?;
            }
            Node::Class(class) => {
                self.push(Inst::Class(class.clone()))?;
            }
            Node::Assert(assertion) => {
                self.push(Inst::Assert(*assertion))?;
            }
            Node::Concat(items) => {
                for item in items {
                    self.emit_node(item)?;
                }
            }
            Node::Alternate(branches) => self.emit_alternation(branches)?,
            Node::Repeat { node, min, max } => self.emit_repeat(node, *min, *max)?,
        }
        Ok(())
    }

    fn emit_alternation(&mut self, branches: &[Node]) -> Result<(), RegexError> {
        let mut jumps_to_end = Vec::new();
        for (index, branch) in branches.iter().enumerate() {
            if index + 1 == branches.len() {
                self.emit_node(branch)?;
                break;
            }
            let split = self.push(Inst::Split(0, 0))?;
            self.emit_node(branch)?;
            jumps_to_end.push(self.push(Inst::Jump(0))?);
            let next_branch = self.program.len();
            self.program[split] = Inst::Split(split + 1, next_branch);
        }
        let end = self.program.len();
        for jump in jumps_to_end {
            self.program[jump] = Inst::Jump(end);
        }
        Ok(())
    }

    fn emit_repeat(&mut self, node: &Node, min: u32, max: Option<u32>) -> Result<(), RegexError> {
        for _ in 0..min {
            self.emit_node(node)?;
        }
        match max {
            None => {
                // L: split body, end; body; jump L
                let split = self.push(Inst::Split(0, 0))?;
                self.emit_node(node)?;
                self.push(Inst::Jump(split))?;
                let end = self.program.len();
                self.program[split] = Inst::Split(split + 1, end);
            }
            Some(max) => {
                let mut splits = Vec::new();
                for _ in min..max {
                    splits.push(self.push(Inst::Split(0, 0))?);
                    self.emit_node(node)?;
                }
                let end = self.program.len();
                for split in splits {
                    self.program[split] = Inst::Split(split + 1, end);
                }
            }
        }
        Ok(())
    }
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn fold(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

fn chars_equal_folded(a: char, b: char) -> bool {
    a == b || fold(a) == fold(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, text: &str) -> bool {
        Regex::new(pattern).unwrap().is_match(text)
    }

    #[test]
    fn literals_anchors_and_dot() {
        assert!(matches("abc", "xxabcxx"));
        assert!(!matches("^abc", "xxabc"));
        assert!(matches("^abc$", "abc"));
        assert!(matches("a.c", "abc"));
        assert!(!matches("a.c", "a\nc"));
        assert!(matches("", "anything"));
        assert!(matches("ABC", "abc"), "matching is case-insensitive");
    }

    #[test]
    fn quantifiers_and_groups() {
        assert!(matches("^a*b+c?$", "aaabbb"));
        assert!(!matches("^a*b+c?$", "aaa"));
        assert!(matches("^(ab|cd)+$", "abcdab"));
        assert!(matches("^a{2,3}$", "aaa"));
        assert!(!matches("^a{2,3}$", "aaaa"));
        assert!(matches("^a{2,}$", "aaaaa"));
        assert!(matches("^a{2}$", "aa"));
        assert!(matches("^(?:x|y)*?z$", "xyxz"));
        assert!(
            matches("a{,", "a{,"),
            "a brace that is no count is a literal"
        );
    }

    #[test]
    fn classes_and_escapes() {
        assert!(matches("^[a-c]+$", "abcCBA"));
        assert!(!matches("^[^0-9]+$", "ab1"));
        assert!(matches("^[[:digit:]]{4}-[[:digit:]]{2}$", "2024-03"));
        assert!(matches(r"^\d+\.\d+$", "3.14"));
        assert!(matches(r"\bword\b", "a word here"));
        assert!(!matches(r"\bword\b", "swordfish"));
        assert!(matches("[[:<:]]word[[:>:]]", "the word"));
        assert!(matches("[]a]", "]"));
        assert!(matches("[a-]", "-"));
        assert!(matches(r"^[\w-]+$", "wp_options-2"));
    }

    #[test]
    fn rejects_malformed_patterns() {
        assert!(Regex::new("(abc").is_err());
        assert!(Regex::new("abc)").is_err());
        assert!(Regex::new("*a").is_err());
        assert!(Regex::new("[abc").is_err());
        assert!(Regex::new("a{3,1}").is_err());
        assert!(Regex::new("[[:nope:]]").is_err());
        assert_eq!(
            Regex::new("(a{1000}){1000}").unwrap_err(),
            RegexError::TooLarge
        );
    }

    #[test]
    fn long_texts_do_not_recurse() {
        let text = "a".repeat(200_000);
        assert!(matches("^(a|aa)*$", &text));
        assert!(!matches("^(a|aa)*b$", &text));
    }
}
