//! Just enough of HCL's native syntax to edit configurations in place: a lexer that knows
//! comments, quoted templates with `${...}` interpolations, heredocs and identifiers, and a
//! parser of bodies into attributes and blocks with their byte ranges. Edits are splices of
//! byte ranges, so everything not edited stays byte-for-byte (comments, alignment, blank
//! lines, line endings).

use std::ops::Range;

/// A token: what it is and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// What the token is.
    pub kind: Tok,
    /// Its bytes in the source.
    pub span: Range<usize>,
}

/// Token kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tok {
    /// An identifier (`resource`, `aws_appmesh_mesh`, `name`).
    Ident,
    /// A number.
    Number,
    /// The literal text of a quoted string or heredoc (between interpolations).
    Literal,
    /// `"` opening or closing a quoted template.
    Quote,
    /// `<<EOF` / `<<-EOF` (with its newline) opening a heredoc.
    HeredocStart,
    /// The line closing a heredoc.
    HeredocEnd,
    /// `${` or `%{` opening an interpolation or directive inside a template.
    TemplateOpen,
    /// The `}` closing an interpolation or directive.
    TemplateClose,
    /// A line break outside templates.
    Newline,
    /// A comment (`#`, `//` or `/* */`).
    Comment,
    /// Any other character: `{`, `}`, `=`, `.`, `[`, ...
    Punct,
}

/// A syntax error with its byte offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at byte {at}: {message}")]
pub struct SyntaxError {
    /// Where.
    pub at: usize,
    /// What.
    pub message: String,
}

fn err(at: usize, message: impl Into<String>) -> SyntaxError {
    SyntaxError {
        at,
        message: message.into(),
    }
}

/// Splits `src` into tokens (whitespace other than line breaks is dropped).
pub fn lex(src: &str) -> Result<Vec<Token>, SyntaxError> {
    let mut lexer = Lexer {
        src,
        b: src.as_bytes(),
        i: 0,
        out: Vec::new(),
    };
    lexer.expressions(None)?;
    Ok(lexer.out)
}

struct Lexer<'s> {
    src: &'s str,
    b: &'s [u8],
    i: usize,
    out: Vec<Token>,
}

impl Lexer<'_> {
    fn push(&mut self, kind: Tok, start: usize) {
        self.out.push(Token {
            kind,
            span: start..self.i,
        });
    }

    /// Expression tokens until the end of input, or (inside an interpolation) until the
    /// `}` that closes it, which is consumed.
    fn expressions(&mut self, closing: Option<usize>) -> Result<(), SyntaxError> {
        let mut depth = 0usize;
        while self.i < self.b.len() {
            let start = self.i;
            let c = self.b[self.i];
            match c {
                b' ' | b'\t' => self.i += 1,
                b'\r' if self.b.get(self.i + 1) == Some(&b'\n') => {
                    self.i += 2;
                    self.push(Tok::Newline, start);
                }
                b'\n' => {
                    self.i += 1;
                    self.push(Tok::Newline, start);
                }
                b'#' => self.line_comment(start),
                b'/' if self.b.get(self.i + 1) == Some(&b'/') => self.line_comment(start),
                b'/' if self.b.get(self.i + 1) == Some(&b'*') => {
                    let end = self.src[self.i + 2..]
                        .find("*/")
                        .ok_or_else(|| err(start, "unterminated /* comment"))?;
                    self.i += 2 + end + 2;
                    self.push(Tok::Comment, start);
                }
                b'"' => {
                    self.i += 1;
                    self.push(Tok::Quote, start);
                    self.template(Some(b'"'))?;
                }
                b'<' if self.src[self.i..].starts_with("<<") && self.heredoc_ahead() => {
                    self.heredoc(start)?;
                }
                b'{' => {
                    depth += 1;
                    self.i += 1;
                    self.push(Tok::Punct, start);
                }
                b'}' if depth == 0 && closing.is_some() => {
                    self.i += 1;
                    self.push(Tok::TemplateClose, start);
                    return Ok(());
                }
                b'}' => {
                    depth = depth.saturating_sub(1);
                    self.i += 1;
                    self.push(Tok::Punct, start);
                }
                c if c.is_ascii_alphabetic() || c == b'_' => {
                    while self.i < self.b.len()
                        && (self.b[self.i].is_ascii_alphanumeric()
                            || matches!(self.b[self.i], b'_' | b'-'))
                    {
                        self.i += 1;
                    }
                    self.push(Tok::Ident, start);
                }
                c if c.is_ascii_digit() => {
                    while self.i < self.b.len()
                        && (self.b[self.i].is_ascii_alphanumeric() || self.b[self.i] == b'.')
                    {
                        self.i += 1;
                    }
                    self.push(Tok::Number, start);
                }
                _ => {
                    // One character, whatever its UTF-8 length.
                    let len = self.src[self.i..].chars().next().map_or(1, char::len_utf8);
                    self.i += len;
                    self.push(Tok::Punct, start);
                }
            }
        }
        match closing {
            Some(at) => Err(err(at, "unterminated interpolation")),
            None => Ok(()),
        }
    }

    fn line_comment(&mut self, start: usize) {
        while self.i < self.b.len() && self.b[self.i] != b'\n' {
            self.i += 1;
        }
        // Keep a `\r` of a CRLF with the line break.
        if self.i > start && self.b[self.i - 1] == b'\r' && self.i < self.b.len() {
            self.i -= 1;
        }
        self.push(Tok::Comment, start);
    }

    fn heredoc_ahead(&self) -> bool {
        let rest = &self.src[self.i + 2..];
        let rest = rest.strip_prefix('-').unwrap_or(rest);
        rest.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
    }

    fn heredoc(&mut self, start: usize) -> Result<(), SyntaxError> {
        self.i += 2;
        if self.b.get(self.i) == Some(&b'-') {
            self.i += 1;
        }
        let name_start = self.i;
        while self.i < self.b.len()
            && (self.b[self.i].is_ascii_alphanumeric() || self.b[self.i] == b'_')
        {
            self.i += 1;
        }
        let marker = self.src[name_start..self.i].to_owned();
        match self.src[self.i..].find('\n') {
            Some(n) => self.i += n + 1,
            None => return Err(err(start, "a heredoc needs a line break after its marker")),
        }
        self.push(Tok::HeredocStart, start);
        // The body is a template up to the line that holds only the marker.
        let mut line_start = self.i;
        let mut literal_start = self.i;
        loop {
            let line_end = self.src[line_start..]
                .find('\n')
                .map_or(self.b.len(), |n| line_start + n);
            let line = self.src[line_start..line_end].trim_end_matches('\r');
            if line.trim() == marker {
                self.i = line_start;
                self.literal(literal_start);
                self.i = line_end;
                self.push(Tok::HeredocEnd, line_start);
                return Ok(());
            }
            // Interpolations inside this line.
            self.i = line_start;
            while self.i < line_end {
                if self.interpolation_at() {
                    self.literal(literal_start);
                    let open = self.i;
                    self.i += 2;
                    self.push(Tok::TemplateOpen, open);
                    self.expressions(Some(open))?;
                    literal_start = self.i;
                } else {
                    self.i += 1;
                }
            }
            if line_end >= self.b.len() {
                return Err(err(start, format!("heredoc {marker} is not closed")));
            }
            line_start = line_end + 1;
        }
    }

    fn interpolation_at(&self) -> bool {
        let rest = &self.b[self.i..];
        (rest.starts_with(b"${") || rest.starts_with(b"%{"))
            && !(self.i > 0 && self.b[self.i - 1] == rest[0] && self.escaped_marker())
    }

    /// `$${` and `%%{` are literal `${` and `%{`.
    fn escaped_marker(&self) -> bool {
        // Count the run of the marker character before `self.i`: an odd run escapes.
        let c = self.b[self.i];
        let mut n = 0;
        let mut j = self.i;
        while j > 0 && self.b[j - 1] == c {
            n += 1;
            j -= 1;
        }
        n % 2 == 1
    }

    fn literal(&mut self, start: usize) {
        if self.i > start {
            self.push(Tok::Literal, start);
        }
    }

    /// A quoted template's content up to and including its closing quote.
    fn template(&mut self, quote: Option<u8>) -> Result<(), SyntaxError> {
        let open = self.i.saturating_sub(1);
        let mut literal_start = self.i;
        while self.i < self.b.len() {
            match self.b[self.i] {
                b'\\' => self.i += 2,
                b'\n' => return Err(err(open, "a quoted string cannot span lines")),
                c if Some(c) == quote => {
                    self.literal(literal_start);
                    let at = self.i;
                    self.i += 1;
                    self.push(Tok::Quote, at);
                    return Ok(());
                }
                _ if self.interpolation_at() => {
                    self.literal(literal_start);
                    let at = self.i;
                    self.i += 2;
                    self.push(Tok::TemplateOpen, at);
                    self.expressions(Some(at))?;
                    literal_start = self.i;
                }
                _ => self.i += 1,
            }
        }
        Err(err(open, "unterminated string"))
    }
}

/// One item of a body.
#[derive(Debug, Clone)]
pub enum Item {
    /// `name = value`.
    Attribute {
        /// The attribute's name.
        name: String,
        /// The bytes of the whole item, name to end of value.
        span: Range<usize>,
        /// The bytes of the value expression.
        value: Range<usize>,
    },
    /// `type "label" ... { body }`.
    Block(Block),
}

/// A block with its labels and body.
#[derive(Debug, Clone)]
pub struct Block {
    /// The block type: `resource`, `provider`, `terraform`, ...
    pub kind: String,
    /// The labels, unquoted, with the bytes of each label's text.
    pub labels: Vec<(String, Range<usize>)>,
    /// The bytes from the block type to the closing brace.
    pub span: Range<usize>,
    /// The byte just after the opening brace.
    pub body_start: usize,
    /// The byte of the closing brace.
    pub body_end: usize,
    /// The body.
    pub body: Vec<Item>,
}

impl Block {
    /// The nested blocks of type `kind`.
    pub fn blocks<'b>(&'b self, kind: &'b str) -> impl Iterator<Item = &'b Block> + 'b {
        self.body.iter().filter_map(move |item| match item {
            Item::Block(b) if b.kind == kind => Some(b),
            _ => None,
        })
    }

    /// The value bytes of the attribute `name`.
    pub fn attribute(&self, name: &str) -> Option<Range<usize>> {
        self.body.iter().find_map(|item| match item {
            Item::Attribute { name: n, value, .. } if n == name => Some(value.clone()),
            _ => None,
        })
    }
}

/// Parses a configuration file into its top-level items.
pub fn parse(src: &str) -> Result<Vec<Item>, SyntaxError> {
    let tokens: Vec<Token> = lex(src)?
        .into_iter()
        .filter(|t| t.kind != Tok::Comment)
        .collect();
    let mut p = Parser {
        src,
        t: &tokens,
        i: 0,
    };
    let items = p.body(false)?;
    Ok(items)
}

struct Parser<'a> {
    src: &'a str,
    t: &'a [Token],
    i: usize,
}

impl Parser<'_> {
    fn text(&self, t: &Token) -> &str {
        &self.src[t.span.clone()]
    }

    fn peek(&self) -> Option<&Token> {
        self.t.get(self.i)
    }

    fn is_punct(&self, t: &Token, c: &str) -> bool {
        t.kind == Tok::Punct && self.text(t) == c
    }

    fn body(&mut self, nested: bool) -> Result<Vec<Item>, SyntaxError> {
        let mut items = Vec::new();
        loop {
            let Some(t) = self.peek().cloned() else {
                return if nested {
                    Err(err(self.src.len(), "a block is not closed"))
                } else {
                    Ok(items)
                };
            };
            match t.kind {
                Tok::Newline => self.i += 1,
                Tok::Punct if self.text(&t) == "}" && nested => return Ok(items),
                Tok::Ident => items.push(self.item()?),
                _ => {
                    return Err(err(
                        t.span.start,
                        format!(
                            "expected an attribute or a block, found {:?}",
                            self.text(&t)
                        ),
                    ))
                }
            }
        }
    }

    fn item(&mut self) -> Result<Item, SyntaxError> {
        let head = self.t[self.i].clone();
        let name = self.text(&head).to_owned();
        self.i += 1;
        if let Some(t) = self.peek() {
            if self.is_punct(t, "=") {
                self.i += 1;
                let value = self.expression()?;
                return Ok(Item::Attribute {
                    name,
                    span: head.span.start..value.end,
                    value,
                });
            }
        }
        let mut labels = Vec::new();
        loop {
            let t = self
                .peek()
                .cloned()
                .ok_or_else(|| err(head.span.start, format!("{name}: expected a block")))?;
            match t.kind {
                Tok::Quote => {
                    // A label is a quoted string without interpolations.
                    let (text, range) = match (self.t.get(self.i + 1), self.t.get(self.i + 2)) {
                        (Some(lit), Some(close))
                            if lit.kind == Tok::Literal && close.kind == Tok::Quote =>
                        {
                            self.i += 3;
                            (self.text(lit).to_owned(), lit.span.clone())
                        }
                        (Some(close), _) if close.kind == Tok::Quote => {
                            self.i += 2;
                            (String::new(), close.span.start..close.span.start)
                        }
                        _ => return Err(err(t.span.start, "a block label must be a plain string")),
                    };
                    labels.push((text, range));
                }
                Tok::Ident => {
                    labels.push((self.text(&t).to_owned(), t.span.clone()));
                    self.i += 1;
                }
                Tok::Punct if self.text(&t) == "{" => {
                    self.i += 1;
                    let body_start = t.span.end;
                    let body = self.body(true)?;
                    let close = self.t[self.i].clone();
                    self.i += 1;
                    return Ok(Item::Block(Block {
                        kind: name,
                        labels,
                        span: head.span.start..close.span.end,
                        body_start,
                        body_end: close.span.start,
                        body,
                    }));
                }
                _ => {
                    return Err(err(
                        t.span.start,
                        format!("{name}: expected = or a block, found {:?}", self.text(&t)),
                    ))
                }
            }
        }
    }

    /// An expression: everything up to a line break (or the `}` closing the body) outside
    /// brackets.
    fn expression(&mut self) -> Result<Range<usize>, SyntaxError> {
        let mut depth = 0usize;
        let mut start: Option<usize> = None;
        let mut end = self.t.get(self.i).map_or(self.src.len(), |t| t.span.start);
        while let Some(t) = self.peek().cloned() {
            let text = self.text(&t);
            match t.kind {
                Tok::Newline if depth == 0 => break,
                Tok::Punct if depth == 0 && text == "}" => break,
                Tok::Punct if matches!(text, "(" | "[" | "{") => depth += 1,
                Tok::Punct if matches!(text, ")" | "]" | "}") => depth = depth.saturating_sub(1),
                Tok::TemplateOpen => depth += 1,
                Tok::TemplateClose => depth = depth.saturating_sub(1),
                _ => {}
            }
            if t.kind != Tok::Newline {
                start.get_or_insert(t.span.start);
                end = t.span.end;
            }
            self.i += 1;
        }
        let start = start.ok_or_else(|| err(end, "an attribute needs a value"))?;
        Ok(start..end)
    }
}

/// Applies `(range, replacement)` edits to `src` (ranges must not overlap).
pub fn splice(src: &str, mut edits: Vec<(Range<usize>, String)>) -> String {
    edits.sort_by_key(|(r, _)| r.start);
    let mut out = String::with_capacity(src.len() + 64);
    let mut at = 0;
    for (range, text) in edits {
        out.push_str(&src[at..range.start]);
        out.push_str(&text);
        at = range.end;
    }
    out.push_str(&src[at..]);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(Tok, String)> {
        lex(src)
            .unwrap()
            .into_iter()
            .map(|t| (t.kind, src[t.span].to_owned()))
            .collect()
    }

    #[test]
    fn templates_comments_and_heredocs_are_told_apart() {
        let src = "a = \"x ${b.c} $${d}\" # aws_appmesh_mesh.e\nf = <<-EOT\n  ${g.h} i\n  EOT\n";
        let idents: Vec<String> = kinds(src)
            .into_iter()
            .filter(|(k, _)| *k == Tok::Ident)
            .map(|(_, t)| t)
            .collect();
        assert_eq!(idents, ["a", "b", "c", "f", "g", "h"]);
        let literals: Vec<String> = kinds(src)
            .into_iter()
            .filter(|(k, _)| *k == Tok::Literal)
            .map(|(_, t)| t)
            .collect();
        assert_eq!(literals, ["x ", " $${d}", "  ", " i\n"]);
    }

    #[test]
    fn nested_braces_and_strings_inside_interpolations() {
        let src = r#"a = "${lookup({ k = "v}" }, "k")}" "#;
        let toks = kinds(src);
        assert!(toks.contains(&(Tok::Literal, "v}".to_owned())));
        assert_eq!(toks.last().unwrap(), &(Tok::Quote, "\"".to_owned()));
    }

    #[test]
    fn bodies_parse_into_attributes_and_blocks() {
        let src = "terraform {\n  required_providers {\n    aws = { source = \"hashicorp/aws\" }\n  }\n}\n\nresource \"x\" \"y\" { a = [1,\n 2] }\n";
        let items = parse(src).unwrap();
        assert_eq!(items.len(), 2);
        let Item::Block(tf) = &items[0] else { panic!() };
        let rp = tf.blocks("required_providers").next().unwrap();
        assert_eq!(
            &src[rp.attribute("aws").unwrap()],
            "{ source = \"hashicorp/aws\" }"
        );
        let Item::Block(r) = &items[1] else { panic!() };
        assert_eq!(
            r.labels.iter().map(|l| l.0.as_str()).collect::<Vec<_>>(),
            ["x", "y"]
        );
        assert_eq!(&src[r.attribute("a").unwrap()], "[1,\n 2]");
    }

    #[test]
    fn syntax_errors_say_where() {
        assert!(parse("a = \"open\n").is_err());
        assert!(parse("resource \"x\" {\n").is_err());
        assert!(lex("/* no end").is_err());
    }

    #[test]
    fn crlf_files_keep_their_line_breaks() {
        let src = "a = 1 # c\r\nb = 2\r\n";
        let toks = kinds(src);
        assert!(toks.contains(&(Tok::Comment, "# c".to_owned())));
        assert!(toks.contains(&(Tok::Newline, "\r\n".to_owned())));
    }
}
