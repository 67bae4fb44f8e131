//! A Sigma rule as regwatch reads it: its metadata, logsource, selections and condition,
//! parsed from YAML. What is outside the supported subset is refused with a reason.

use regex::Regex;
use yaml_rust2::{Yaml, YamlLoader};

/// Where a rule's events come from (its `logsource`); rules are indexed by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logsource {
    /// `product: aws`, `service: cloudtrail`.
    CloudTrail,
    /// `product: kubernetes`, `service: audit`.
    Kubernetes,
}

/// One Sigma rule, parsed.
#[derive(Debug, Clone)]
pub struct Rule {
    pub id: String,
    pub title: String,
    pub description: String,
    pub author: String,
    /// `informational`, `low`, `medium`, `high` or `critical`.
    pub level: String,
    pub tags: Vec<String>,
    pub falsepositives: Vec<String>,
    pub logsource: Logsource,
    /// The named selections, in the rule's order.
    pub selections: Vec<(String, Selection)>,
    pub condition: Cond,
}

/// A selection: any of its maps matches (a list of maps is an OR); each map matches when
/// all its field tests do.
#[derive(Debug, Clone)]
pub struct Selection(pub Vec<Vec<FieldTest>>);

/// One `field|modifiers: values` line.
#[derive(Debug, Clone)]
pub struct FieldTest {
    pub field: String,
    pub patterns: Vec<Pattern>,
    /// `|all`: every pattern must match (otherwise any one).
    pub all: bool,
}

/// One value a field is compared with.
#[derive(Debug, Clone)]
pub enum Pattern {
    /// `null`: the field is missing or null.
    Null,
    /// A case-insensitive wildcard pattern (`*`, `?`), already lower-case, split into
    /// pieces.
    Glob(Vec<GlobPiece>),
    /// `|re`: a regular expression (case-sensitive, as Sigma says).
    Re(Regex),
    /// `|fieldref`: equal to the value of another field of the same record.
    FieldRef(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum GlobPiece {
    Text(String),
    AnyString,
    AnyChar,
}

/// A rule's condition.
#[derive(Debug, Clone)]
pub enum Cond {
    Selection(usize),
    Not(Box<Cond>),
    And(Vec<Cond>),
    Or(Vec<Cond>),
    /// `1 of x*` / `1 of them`.
    AnyOf(Vec<usize>),
    /// `all of x*` / `all of them`.
    AllOf(Vec<usize>),
}

/// Parses one rule file's text; `Err` says why it is refused.
pub fn parse(text: &str) -> Result<Rule, String> {
    let docs = YamlLoader::load_from_str(text).map_err(|e| format!("not YAML: {e}"))?;
    if docs.len() != 1 {
        return Err(format!(
            "{} YAML documents (rule collections are not supported)",
            docs.len()
        ));
    }
    let doc = &docs[0];
    let text_of = |key: &str| doc[key].as_str().unwrap_or("").trim().to_string();
    let list_of = |key: &str| -> Vec<String> {
        match &doc[key] {
            Yaml::Array(a) => a.iter().filter_map(scalar).collect(),
            y => scalar(y).into_iter().collect(),
        }
    };
    let id = text_of("id");
    let title = text_of("title");
    if id.is_empty() || title.is_empty() {
        return Err("no id or no title".into());
    }
    let ls = &doc["logsource"];
    let product = ls["product"].as_str().unwrap_or("");
    let service = ls["service"].as_str().unwrap_or("");
    let logsource = match (product, service) {
        ("aws", "cloudtrail") => Logsource::CloudTrail,
        ("kubernetes", "audit") => Logsource::Kubernetes,
        _ => {
            return Err(format!(
                "logsource product {product:?} service {service:?} (only aws/cloudtrail and kubernetes/audit are read)"
            ))
        }
    };
    let level = text_of("level").to_lowercase();
    if !["informational", "low", "medium", "high", "critical"].contains(&level.as_str()) {
        return Err(format!("level {level:?} is not one of Sigma's"));
    }
    let Yaml::Hash(detection) = &doc["detection"] else {
        return Err("no detection".into());
    };
    let mut selections = Vec::new();
    let mut condition = None;
    for (k, v) in detection {
        let name = k.as_str().ok_or("a detection key that is not text")?;
        if name == "condition" {
            condition = Some(match v {
                Yaml::String(s) => s.clone(),
                Yaml::Array(a) if a.len() == 1 => scalar(&a[0]).unwrap_or_default(),
                _ => return Err("a list of conditions is not supported".into()),
            });
        } else if name == "timeframe" {
            return Err("timeframe (correlation) is not supported".into());
        } else {
            let sel = selection(v).map_err(|e| format!("selection {name}: {e}"))?;
            selections.push((name.to_string(), sel));
        }
    }
    let condition = condition.ok_or("no condition")?;
    let names: Vec<&str> = selections.iter().map(|(n, _)| n.as_str()).collect();
    let condition =
        parse_condition(&condition, &names).map_err(|e| format!("condition {condition:?}: {e}"))?;
    Ok(Rule {
        id,
        title,
        description: text_of("description"),
        author: text_of("author"),
        level,
        tags: list_of("tags"),
        falsepositives: list_of("falsepositives"),
        logsource,
        selections,
        condition,
    })
}

fn scalar(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn selection(v: &Yaml) -> Result<Selection, String> {
    match v {
        Yaml::Hash(_) => Ok(Selection(vec![field_map(v)?])),
        Yaml::Array(items) if items.iter().all(|i| matches!(i, Yaml::Hash(_))) => Ok(Selection(
            items.iter().map(field_map).collect::<Result<_, _>>()?,
        )),
        _ => Err("keyword (full-text) selections are not supported".into()),
    }
}

fn field_map(v: &Yaml) -> Result<Vec<FieldTest>, String> {
    let Yaml::Hash(h) = v else {
        return Err("not a map of fields".into());
    };
    h.iter()
        .map(|(k, v)| {
            let key = k.as_str().ok_or("a field name that is not text")?;
            field_test(key, v)
        })
        .collect()
}

fn field_test(key: &str, v: &Yaml) -> Result<FieldTest, String> {
    let mut parts = key.split('|');
    let field = parts.next().unwrap_or("").to_string();
    let (mut how, mut all) = ("", false);
    for m in parts {
        match m {
            "all" => all = true,
            "contains" | "startswith" | "endswith" | "re" | "fieldref" if how.is_empty() => how = m,
            other => return Err(format!("modifier {other:?} of {field} is not supported")),
        }
    }
    let values: Vec<Option<String>> = match v {
        Yaml::Array(a) => a.iter().map(value).collect::<Result<_, _>>()?,
        y => vec![value(y)?],
    };
    let patterns = values
        .into_iter()
        .map(|val| {
            let Some(val) = val else {
                return Ok(Pattern::Null);
            };
            Ok(match how {
                "re" => Pattern::Re(
                    Regex::new(&val).map_err(|e| format!("bad regular expression: {e}"))?,
                ),
                "fieldref" => Pattern::FieldRef(val),
                "contains" => Pattern::Glob(glob(&format!("*{val}*"))),
                "startswith" => Pattern::Glob(glob(&format!("{val}*"))),
                "endswith" => Pattern::Glob(glob(&format!("*{val}"))),
                _ => Pattern::Glob(glob(&val)),
            })
        })
        .collect::<Result<_, String>>()?;
    Ok(FieldTest {
        field,
        patterns,
        all,
    })
}

fn value(y: &Yaml) -> Result<Option<String>, String> {
    match y {
        Yaml::Null => Ok(None),
        y => scalar(y)
            .map(Some)
            .ok_or_else(|| "a value that is not text, a number or null".into()),
    }
}

/// A Sigma wildcard pattern, lower-cased: `*` any text, `?` any character, `\` escapes.
pub fn glob(pattern: &str) -> Vec<GlobPiece> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n @ ('*' | '?' | '\\')) => text.push(n),
                Some(n) => {
                    text.push('\\');
                    text.extend(n.to_lowercase());
                }
                None => text.push('\\'),
            },
            '*' | '?' => {
                if !text.is_empty() {
                    out.push(GlobPiece::Text(std::mem::take(&mut text)));
                }
                let piece = if c == '*' {
                    GlobPiece::AnyString
                } else {
                    GlobPiece::AnyChar
                };
                if !(piece == GlobPiece::AnyString && out.last() == Some(&GlobPiece::AnyString)) {
                    out.push(piece);
                }
            }
            c => text.extend(c.to_lowercase()),
        }
    }
    if !text.is_empty() {
        out.push(GlobPiece::Text(text));
    }
    out
}

/// Whether lower-cased `text` matches the pattern.
pub fn glob_match(pieces: &[GlobPiece], text: &str) -> bool {
    match pieces.split_first() {
        None => text.is_empty(),
        Some((GlobPiece::Text(t), rest)) => {
            text.starts_with(t.as_str()) && glob_match(rest, &text[t.len()..])
        }
        Some((GlobPiece::AnyChar, rest)) => {
            let mut chars = text.chars();
            chars.next().is_some() && glob_match(rest, chars.as_str())
        }
        Some((GlobPiece::AnyString, rest)) => {
            if rest.is_empty() {
                return true;
            }
            text.char_indices()
                .map(|(i, _)| i)
                .chain([text.len()])
                .any(|i| glob_match(rest, &text[i..]))
        }
    }
}

/// Parses a condition: `and`, `or`, `not`, parentheses, selection names, and
/// `1 of x*` / `all of x*` / `1 of them` / `all of them`.
pub fn parse_condition(text: &str, names: &[&str]) -> Result<Cond, String> {
    let spaced = text.replace('(', " ( ").replace(')', " ) ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    let mut p = CondParser {
        tokens,
        at: 0,
        names,
    };
    let c = p.or()?;
    match p.tokens.get(p.at) {
        None => Ok(c),
        Some(t) => Err(format!("unexpected {t:?}")),
    }
}

struct CondParser<'a> {
    tokens: Vec<&'a str>,
    at: usize,
    names: &'a [&'a str],
}

impl<'a> CondParser<'a> {
    fn peek(&self) -> Option<&'a str> {
        self.tokens.get(self.at).copied()
    }

    fn or(&mut self) -> Result<Cond, String> {
        let mut parts = vec![self.and()?];
        while self.peek() == Some("or") {
            self.at += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Cond::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Cond, String> {
        let mut parts = vec![self.not()?];
        while self.peek() == Some("and") {
            self.at += 1;
            parts.push(self.not()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Cond::And(parts)
        })
    }

    fn not(&mut self) -> Result<Cond, String> {
        if self.peek() == Some("not") {
            self.at += 1;
            return Ok(Cond::Not(Box::new(self.not()?)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Cond, String> {
        let t = self.peek().ok_or("ends too soon")?;
        self.at += 1;
        match t {
            "(" => {
                let c = self.or()?;
                if self.peek() != Some(")") {
                    return Err("a parenthesis is not closed".into());
                }
                self.at += 1;
                Ok(c)
            }
            "1" | "all" if self.peek() == Some("of") => {
                self.at += 1;
                let what = self.peek().ok_or("nothing after \"of\"")?;
                self.at += 1;
                let chosen: Vec<usize> = (0..self.names.len())
                    .filter(|&i| {
                        let n = self.names[i];
                        if what == "them" {
                            !n.starts_with('_')
                        } else {
                            glob_match(&glob(what), &n.to_lowercase())
                        }
                    })
                    .collect();
                if chosen.is_empty() {
                    return Err(format!("no selection matches {what:?}"));
                }
                Ok(if t == "1" {
                    Cond::AnyOf(chosen)
                } else {
                    Cond::AllOf(chosen)
                })
            }
            "|" => Err("aggregations (\"|\") are not supported".into()),
            name => self
                .names
                .iter()
                .position(|n| *n == name)
                .map(Cond::Selection)
                .ok_or_else(|| format!("no selection named {name:?}")),
        }
    }
}
