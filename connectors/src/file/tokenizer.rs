//! A CSV tokenizer that splits a byte stream into records of fields and
//! remembers, for each field, whether it was quoted and, for each record,
//! the line it starts on.
//!
//! Arrow's CSV reader (and the `csv` crate under it) forget both, and we
//! need them: an empty *unquoted* field is NULL while `""` is the empty
//! string (Postgres's CSV rules), and bad-row errors name the line.
//!
//! Dialect: fields are separated by `delimiter`; a field that starts with
//! `quote` runs to the next lone `quote`, a doubled quote inside it is a
//! literal quote, and line breaks inside it are data. Records end at `\n`,
//! `\r\n` or `\r`. Empty lines are skipped. A UTF-8 byte order mark at the
//! start of the stream is skipped. Text after a closing quote is kept
//! (lenient, like the `csv` crate), a quote inside an unquoted field is a
//! literal character.

use std::io::{self, BufRead};

/// One record: its fields' bytes, end offsets and quotedness.
#[derive(Debug, Default)]
pub(crate) struct Record {
    /// The line (1-based) on which the record starts.
    line: u64,
    /// All fields' bytes, concatenated.
    data: Vec<u8>,
    /// End offset in `data` of each field.
    ends: Vec<usize>,
    /// Whether each field was quoted.
    quoted: Vec<bool>,
    /// Whether the stream ended inside a quoted field.
    unterminated: bool,
}

impl Record {
    /// The line (1-based) on which the record starts.
    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    /// The number of fields.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// The bytes of field `i` (quotes removed, doubled quotes undone).
    pub(crate) fn field(&self, i: usize) -> &[u8] {
        &self.data[self.range(i)]
    }

    /// The byte range of field `i` in [`Self::data`].
    pub(crate) fn range(&self, i: usize) -> std::ops::Range<usize> {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        start..self.ends[i]
    }

    /// All fields' bytes, concatenated.
    pub(crate) fn data(&self) -> &[u8] {
        &self.data
    }

    /// Whether field `i` was quoted.
    pub(crate) fn is_quoted(&self, i: usize) -> bool {
        self.quoted[i]
    }

    /// Whether the input ended inside a quoted field of this record.
    pub(crate) fn is_unterminated(&self) -> bool {
        self.unterminated
    }

    fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
        self.quoted.clear();
        self.unterminated = false;
    }

    fn end_field(&mut self, quoted: bool) {
        self.ends.push(self.data.len());
        self.quoted.push(quoted);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the first byte of a record (empty lines are skipped here).
    StartRecord,
    /// Before the first byte of a field.
    StartField,
    /// Inside an unquoted field.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// After a quote inside a quoted field: the field ends, or the quote was
    /// the first of a doubled pair.
    QuoteInQuoted,
    /// After the closing quote, more text before the delimiter (kept).
    AfterQuoted,
}

/// Reads [`Record`]s from a buffered byte stream.
#[derive(Debug)]
pub(crate) struct Tokenizer<R> {
    reader: R,
    delimiter: u8,
    quote: u8,
    /// The line the next byte is on (1-based).
    line: u64,
    /// The previous record ended with `\r`; a `\n` right after belongs to it.
    pending_cr: bool,
    /// The byte order mark has been checked.
    started: bool,
}

impl<R: BufRead> Tokenizer<R> {
    /// A tokenizer over `reader` with the given delimiter and quote bytes.
    pub(crate) fn new(reader: R, delimiter: u8, quote: u8) -> Self {
        Self {
            reader,
            delimiter,
            quote,
            line: 1,
            pending_cr: false,
            started: false,
        }
    }

    /// Reads the next record into `rec`; `false` at the end of the input.
    pub(crate) fn read_record(&mut self, rec: &mut Record) -> io::Result<bool> {
        if !self.started {
            self.started = true;
            let buf = self.reader.fill_buf()?;
            if buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
                self.reader.consume(3);
            }
        }
        rec.clear();
        rec.line = self.line;
        let mut state = State::StartRecord;
        let mut quoted = false;
        loop {
            let buf = self.reader.fill_buf()?;
            if buf.is_empty() {
                return Ok(match state {
                    State::StartRecord => false,
                    State::Quoted => {
                        rec.unterminated = true;
                        rec.end_field(true);
                        true
                    }
                    _ => {
                        rec.end_field(quoted);
                        true
                    }
                });
            }
            let n = buf.len();
            let mut i = 0;
            while i < n {
                let b = buf[i];
                if self.pending_cr {
                    self.pending_cr = false;
                    if b == b'\n' {
                        i += 1;
                        continue;
                    }
                }
                match state {
                    State::StartRecord => {
                        if b == b'\n' || b == b'\r' {
                            self.line += 1;
                            self.pending_cr = b == b'\r';
                            rec.line = self.line;
                            i += 1;
                        } else {
                            state = State::StartField;
                        }
                        continue;
                    }
                    State::StartField => {
                        quoted = false;
                        if b == self.quote {
                            quoted = true;
                            state = State::Quoted;
                        } else if b == self.delimiter {
                            rec.end_field(false);
                        } else if b == b'\n' || b == b'\r' {
                            rec.end_field(false);
                            self.end_record(b);
                            self.reader.consume(i + 1);
                            return Ok(true);
                        } else {
                            state = State::Unquoted;
                            continue;
                        }
                    }
                    State::Unquoted | State::AfterQuoted => {
                        // Copy the run of ordinary bytes at once.
                        let rest = &buf[i..];
                        let run = rest
                            .iter()
                            .position(|&c| c == self.delimiter || c == b'\n' || c == b'\r')
                            .unwrap_or(rest.len());
                        rec.data.extend_from_slice(&rest[..run]);
                        i += run;
                        if i == n {
                            break;
                        }
                        let b = buf[i];
                        rec.end_field(quoted);
                        if b == self.delimiter {
                            state = State::StartField;
                        } else {
                            self.end_record(b);
                            self.reader.consume(i + 1);
                            return Ok(true);
                        }
                    }
                    State::Quoted => {
                        let rest = &buf[i..];
                        let run = rest
                            .iter()
                            .position(|&c| c == self.quote || c == b'\n')
                            .unwrap_or(rest.len());
                        rec.data.extend_from_slice(&rest[..run]);
                        i += run;
                        if i == n {
                            break;
                        }
                        let b = buf[i];
                        if b == b'\n' {
                            self.line += 1;
                            rec.data.push(b);
                        } else {
                            state = State::QuoteInQuoted;
                        }
                    }
                    State::QuoteInQuoted => {
                        if b == self.quote {
                            rec.data.push(b);
                            state = State::Quoted;
                        } else if b == self.delimiter {
                            rec.end_field(true);
                            state = State::StartField;
                        } else if b == b'\n' || b == b'\r' {
                            rec.end_field(true);
                            self.end_record(b);
                            self.reader.consume(i + 1);
                            return Ok(true);
                        } else {
                            state = State::AfterQuoted;
                            continue;
                        }
                    }
                }
                i += 1;
            }
            self.reader.consume(n);
        }
    }

    fn end_record(&mut self, terminator: u8) {
        self.line += 1;
        self.pending_cr = terminator == b'\r';
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Fields = Vec<(String, bool)>;

    fn read_all(input: &[u8], capacity: usize) -> Vec<(u64, Fields, bool)> {
        let mut t = Tokenizer::new(io::BufReader::with_capacity(capacity, input), b',', b'"');
        let mut rec = Record::default();
        let mut out = Vec::new();
        while t.read_record(&mut rec).unwrap() {
            let fields = (0..rec.len())
                .map(|i| {
                    (
                        String::from_utf8_lossy(rec.field(i)).into_owned(),
                        rec.is_quoted(i),
                    )
                })
                .collect();
            out.push((rec.line(), fields, rec.is_unterminated()));
        }
        out
    }

    /// All records; tiny buffers must give the same answer, since they
    /// exercise the paths that cross buffer boundaries.
    fn records(input: &[u8]) -> Vec<(u64, Fields, bool)> {
        let expected = read_all(input, 64);
        for capacity in [1, 2, 3] {
            assert_eq!(
                read_all(input, capacity),
                expected,
                "buffer capacity {capacity}"
            );
        }
        expected
    }

    fn f(s: &str, q: bool) -> (String, bool) {
        (s.to_string(), q)
    }

    #[test]
    fn splits_fields_and_tracks_quotes() {
        let got = records(b"a,b,c\n1,,\"\"\n\"x,y\",\"he said \"\"hi\"\"\",z\n");
        assert_eq!(
            got,
            vec![
                (1, vec![f("a", false), f("b", false), f("c", false)], false),
                (2, vec![f("1", false), f("", false), f("", true)], false),
                (
                    3,
                    vec![f("x,y", true), f("he said \"hi\"", true), f("z", false)],
                    false
                ),
            ]
        );
    }

    #[test]
    fn counts_lines_across_crlf_empty_lines_and_quoted_newlines() {
        let got = records(b"h1,h2\r\n1,\"multi\nline\"\r\n\r\n\n3,4\r5,6");
        assert_eq!(
            got,
            vec![
                (1, vec![f("h1", false), f("h2", false)], false),
                (2, vec![f("1", false), f("multi\nline", true)], false),
                (6, vec![f("3", false), f("4", false)], false),
                (7, vec![f("5", false), f("6", false)], false),
            ]
        );
    }

    #[test]
    fn skips_byte_order_mark() {
        let got = read_all(b"\xEF\xBB\xBFa,b\n", 64);
        assert_eq!(got, vec![(1, vec![f("a", false), f("b", false)], false)]);
    }

    #[test]
    fn reports_unterminated_quote_and_trailing_delimiter() {
        let got = records(b"a,\n\"open");
        assert_eq!(
            got,
            vec![
                (1, vec![f("a", false), f("", false)], false),
                (2, vec![f("open", true)], true),
            ]
        );
    }
}
