//! The `labelSelector=` query parameter parsed as the API server parses it: a restatement of
//! apimachinery's lexer and parser (`k8s.io/apimachinery/pkg/labels/selector.go`: `Lexer.Lex`,
//! `Parser.parse`, `parseRequirement`, `parseKeyAndInferOperator`, `parseOperator`, `parseValues`,
//! `parseIdentifiersList`, `parseExactValue`, `NewRequirement`), with its error texts, so that a
//! selector the real server refuses with 400 BadRequest is refused here with the same message
//! (`unable to parse requirement: found '!', expected: identifier`).
//!
//! Simplification: requirements come back in the order written (apimachinery sorts them by key);
//! only the first error is reported, as the parser stops there too.

use crate::k8svalid;

/// A selector operator (`selection.Operator`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `key`.
    Exists,
    /// `!key`.
    DoesNotExist,
    /// `key=v` / `key==v`.
    Equals,
    /// `key!=v`.
    NotEquals,
    /// `key in (a,b)`.
    In,
    /// `key notin (a,b)`.
    NotIn,
    /// `key>5`.
    GreaterThan,
    /// `key<5`.
    LessThan,
}

/// One parsed requirement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Req {
    /// The label key.
    pub key: String,
    /// The operator.
    pub op: Op,
    /// Its values (sorted and deduplicated, as apimachinery's string set).
    pub values: Vec<String>,
}

impl Req {
    /// Whether a label value (or its absence) satisfies the requirement (`Requirement.Matches`).
    pub fn matches(&self, value: Option<&str>) -> bool {
        let has = |v: &str| self.values.iter().any(|x| x == v);
        match self.op {
            Op::Exists => value.is_some(),
            Op::DoesNotExist => value.is_none(),
            Op::Equals | Op::In => value.is_some_and(has),
            Op::NotEquals | Op::NotIn => value.is_none_or(|v| !has(v)),
            Op::GreaterThan | Op::LessThan => {
                let (Some(v), Some(bound)) =
                    (value.and_then(|v| v.parse::<i64>().ok()), self.values.first().and_then(|b| b.parse::<i64>().ok()))
                else {
                    return false;
                };
                if self.op == Op::GreaterThan {
                    v > bound
                } else {
                    v < bound
                }
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    End,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

fn keyword(s: &str) -> Option<Tok> {
    Some(match s {
        ")" => Tok::ClosedPar,
        "," => Tok::Comma,
        "!" => Tok::DoesNotExist,
        "==" => Tok::DoubleEquals,
        "=" => Tok::Equals,
        ">" => Tok::GreaterThan,
        "in" => Tok::In,
        "<" => Tok::LessThan,
        "!=" => Tok::NotEquals,
        "notin" => Tok::NotIn,
        "(" => Tok::OpenPar,
        _ => return None,
    })
}

fn special(c: char) -> bool {
    matches!(c, '=' | '!' | '(' | ')' | ',' | '>' | '<')
}

fn white(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn lex(s: &str) -> Vec<(Tok, String)> {
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    loop {
        while i < chars.len() && white(chars[i]) {
            i += 1;
        }
        if i >= chars.len() {
            out.push((Tok::End, String::new()));
            return out;
        }
        if special(chars[i]) {
            // The longest run of special characters that is a token.
            let mut buf = String::new();
            let mut last: Option<(Tok, String)> = None;
            while i < chars.len() && special(chars[i]) {
                buf.push(chars[i]);
                if let Some(t) = keyword(&buf) {
                    last = Some((t, buf.clone()));
                    i += 1;
                } else if last.is_some() {
                    break;
                } else {
                    i += 1;
                }
            }
            // Every special character is a token by itself, so a run always starts with one.
            out.extend(last);
        } else {
            let start = i;
            while i < chars.len() && !white(chars[i]) && !special(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            match keyword(&word) {
                Some(t) => out.push((t, word)),
                None => out.push((Tok::Identifier, word)),
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    KeyAndOperator,
    Values,
}

struct Parser {
    items: Vec<(Tok, String)>,
    pos: usize,
}

impl Parser {
    fn look(&self, mode: Mode) -> (Tok, String) {
        let (mut t, lit) = self.items[self.pos.min(self.items.len() - 1)].clone();
        if mode == Mode::Values && matches!(t, Tok::In | Tok::NotIn) {
            t = Tok::Identifier;
        }
        (t, lit)
    }

    fn consume(&mut self, mode: Mode) -> (Tok, String) {
        let r = self.look(mode);
        if self.pos < self.items.len() - 1 {
            self.pos += 1;
        }
        r
    }

    fn parse(&mut self) -> Result<Vec<Req>, String> {
        let mut reqs = Vec::new();
        loop {
            let (t, lit) = self.look(Mode::Values);
            match t {
                Tok::Identifier | Tok::DoesNotExist => {
                    reqs.push(self.requirement().map_err(|e| format!("unable to parse requirement: {e}"))?);
                    let (t, lit) = self.consume(Mode::Values);
                    match t {
                        Tok::End => return Ok(reqs),
                        Tok::Comma => {
                            let (t2, lit2) = self.look(Mode::Values);
                            if t2 != Tok::Identifier && t2 != Tok::DoesNotExist {
                                return Err(format!("found '{lit2}', expected: identifier after ','"));
                            }
                        }
                        _ => return Err(format!("found '{lit}', expected: ',' or 'end of string'")),
                    }
                }
                Tok::End => return Ok(reqs),
                _ => return Err(format!("found '{lit}', expected: !, identifier, or 'end of string'")),
            }
        }
    }

    fn requirement(&mut self) -> Result<Req, String> {
        let (key, op) = self.key_and_operator()?;
        if matches!(op, Some(Op::Exists | Op::DoesNotExist)) {
            return new_requirement(key, op.unwrap_or(Op::Exists), Vec::new());
        }
        let op = self.operator()?;
        let values = match op {
            Op::In | Op::NotIn => self.values()?,
            _ => self.exact_value()?,
        };
        new_requirement(key, op, values)
    }

    fn key_and_operator(&mut self) -> Result<(String, Option<Op>), String> {
        let mut op = None;
        let (mut t, mut lit) = self.consume(Mode::Values);
        if t == Tok::DoesNotExist {
            op = Some(Op::DoesNotExist);
            (t, lit) = self.consume(Mode::Values);
        }
        if t != Tok::Identifier {
            return Err(format!("found '{lit}', expected: identifier"));
        }
        invalid_key(&lit, "<nil>")?;
        let (next, _) = self.look(Mode::Values);
        if (next == Tok::End || next == Tok::Comma) && op != Some(Op::DoesNotExist) {
            op = Some(Op::Exists);
        }
        Ok((lit, op))
    }

    fn operator(&mut self) -> Result<Op, String> {
        let (t, lit) = self.consume(Mode::KeyAndOperator);
        Ok(match t {
            Tok::In => Op::In,
            Tok::Equals | Tok::DoubleEquals => Op::Equals,
            Tok::GreaterThan => Op::GreaterThan,
            Tok::LessThan => Op::LessThan,
            Tok::NotIn => Op::NotIn,
            Tok::NotEquals => Op::NotEquals,
            _ => return Err(format!("found '{lit}', expected: in, notin, =, ==, !=, gt, lt")),
        })
    }

    fn values(&mut self) -> Result<Vec<String>, String> {
        let (t, lit) = self.consume(Mode::Values);
        if t != Tok::OpenPar {
            return Err(format!("found '{lit}' expected: '('"));
        }
        let (t, lit) = self.look(Mode::Values);
        match t {
            Tok::Identifier | Tok::Comma => {
                let s = self.identifiers()?;
                let (t, _) = self.consume(Mode::Values);
                if t != Tok::ClosedPar {
                    return Err(format!("found '{lit}', expected: ')'"));
                }
                Ok(s)
            }
            Tok::ClosedPar => {
                self.consume(Mode::Values);
                Ok(vec![String::new()])
            }
            _ => Err(format!("found '{lit}', expected: ',', ')' or identifier")),
        }
    }

    fn identifiers(&mut self) -> Result<Vec<String>, String> {
        let mut s: Vec<String> = Vec::new();
        fn insert(s: &mut Vec<String>, v: String) {
            if !s.contains(&v) {
                s.push(v);
            }
        }
        loop {
            let (t, lit) = self.consume(Mode::Values);
            match t {
                Tok::Identifier => {
                    insert(&mut s, lit);
                    let (t2, lit2) = self.look(Mode::Values);
                    match t2 {
                        Tok::Comma => continue,
                        Tok::ClosedPar => return Ok(s),
                        _ => return Err(format!("found '{lit2}', expected: ',' or ')'")),
                    }
                }
                Tok::Comma => {
                    if s.is_empty() {
                        insert(&mut s, String::new());
                    }
                    let (t2, _) = self.look(Mode::Values);
                    if t2 == Tok::ClosedPar {
                        insert(&mut s, String::new());
                        return Ok(s);
                    }
                    if t2 == Tok::Comma {
                        self.consume(Mode::Values);
                        insert(&mut s, String::new());
                    }
                }
                _ => return Err(format!("found '{lit}', expected: ',', or identifier")),
            }
        }
    }

    fn exact_value(&mut self) -> Result<Vec<String>, String> {
        let (t, _) = self.look(Mode::Values);
        if t == Tok::End || t == Tok::Comma {
            return Ok(vec![String::new()]);
        }
        let (t, lit) = self.consume(Mode::Values);
        if t == Tok::Identifier {
            return Ok(vec![lit]);
        }
        Err(format!("found '{lit}', expected: identifier"))
    }
}

fn invalid_key(key: &str, path: &str) -> Result<(), String> {
    let errs = k8svalid::qualified_name(key);
    if errs.is_empty() {
        Ok(())
    } else {
        Err(format!("{path}: Invalid value: {}: {}", k8svalid::go_quote(key), errs.join("; ")))
    }
}

/// `NewRequirement`: the operator's arity and the values' validity.
fn new_requirement(key: String, op: Op, mut values: Vec<String>) -> Result<Req, String> {
    invalid_key(&key, "key")?;
    match op {
        Op::In | Op::NotIn if values.is_empty() => {
            return Err("values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty".into())
        }
        Op::Equals | Op::NotEquals if values.len() != 1 => {
            return Err("values: Invalid value: []: exact-match compatibility requires one single value".into())
        }
        Op::Exists | Op::DoesNotExist if !values.is_empty() => {
            return Err("values: Invalid value: []: values set must be empty for exists and does not exist".into())
        }
        Op::GreaterThan | Op::LessThan => {
            if values.len() != 1 {
                return Err("values: Invalid value: []: for 'Gt', 'Lt' operators, exactly one value is required".into());
            }
            if values[0].parse::<i64>().is_err() {
                return Err(format!(
                    "values[0]: Invalid value: {}: for 'Gt', 'Lt' operators, the value must be an integer",
                    k8svalid::go_quote(&values[0])
                ));
            }
        }
        _ => {}
    }
    for (i, v) in values.iter().enumerate() {
        let errs = k8svalid::label_value(v);
        if !errs.is_empty() {
            return Err(format!("values[{i}][{key}]: Invalid value: {}: {}", k8svalid::go_quote(v), errs.join("; ")));
        }
    }
    values.sort();
    Ok(Req { key, op, values })
}

/// Parse a selector as `labels.Parse` does; `Err` is the message of the API server's 400.
pub fn parse(selector: &str) -> Result<Vec<Req>, String> {
    Parser { items: lex(selector), pos: 0 }.parse()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// apimachinery labels/selector_test.go `TestSelectorParse` (good entries) and `TestLexer`.
    #[rstest]
    #[case("", 0)]
    #[case("x=a", 1)]
    #[case("x=a,y!=b", 2)]
    #[case("x=,z= ", 2)]
    #[case("x= ,z= ", 2)]
    #[case("!x", 1)]
    #[case("x>1", 1)]
    #[case("x<1,y", 2)]
    #[case("x in (a,b),y notin (c)", 2)]
    #[case("x in (,a)", 1)]
    #[case("x in ()", 1)]
    #[case("cluster.x-k8s.io/cluster-name==c1", 1)]
    fn good_selectors(#[case] text: &str, #[case] n: usize) {
        assert_eq!(parse(text).map(|r| r.len()), Ok(n), "{text}");
    }

    /// apimachinery labels/selector_test.go `TestSelectorParse` (bad entries), with the messages.
    #[rstest]
    #[case("!!!", "unable to parse requirement: found '!', expected: identifier")]
    #[case("x=a b", "found 'b', expected: ',' or 'end of string'")]
    #[case("x==a==b", "found '==', expected: ',' or 'end of string'")]
    #[case("!x=a", "found '=', expected: ',' or 'end of string'")]
    #[case("x in (a", "unable to parse requirement: found '', expected: ',' or ')'")]
    #[case("x>a", "unable to parse requirement: values[0]: Invalid value: \"a\": for 'Gt', 'Lt' operators, the value must be an integer")]
    #[case("a,", "found '', expected: identifier after ','")]
    #[case("UP PER=x", "unable to parse requirement: found 'PER', expected: in, notin, =, ==, !=, gt, lt")]
    #[case("x in a", "unable to parse requirement: found 'a' expected: '('")]
    #[case(",", "found ',', expected: !, identifier, or 'end of string'")]
    fn bad_selectors(#[case] text: &str, #[case] want: &str) {
        assert_eq!(parse(text).map(|_| ()), Err(want.to_string()), "{text}");
    }

    #[test]
    fn invalid_keys_and_values_are_named() {
        let e = parse("-bad=x").unwrap_err();
        assert!(e.starts_with("unable to parse requirement: <nil>: Invalid value: \"-bad\": name part must consist of"), "{e}");
        let e = parse("k=-v").unwrap_err();
        assert!(e.starts_with("unable to parse requirement: values[0][k]: Invalid value: \"-v\": a valid label must be"), "{e}");
    }

    #[test]
    fn matching() {
        let r = parse("a=1,b notin (x),!c,d>3").unwrap();
        let labels = |k: &str| match k {
            "a" => Some("1"),
            "d" => Some("4"),
            _ => None,
        };
        assert!(r.iter().all(|q| q.matches(labels(&q.key))));
        assert!(!parse("d<3").unwrap()[0].matches(Some("4")));
    }
}
