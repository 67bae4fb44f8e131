//! Pattern matchers for event text: `*` globs and case-blind word sets. Sources use them
//! to classify identities and environments; policies to pick out events. They run for
//! every event, so they allocate nothing when matching.

use anyhow::{Context, Result};

/// `*` matches any run of characters; comparison ignores ASCII case. Called for every
/// event (logging-tamper resources, condition policies), so it allocates nothing.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let Some(star) = memchr::memchr(b'*', p) else {
        return p.eq_ignore_ascii_case(t);
    };
    let last_star = memchr::memrchr(b'*', p).unwrap_or(star);
    let (first, last) = (&p[..star], &p[last_star + 1..]);
    if t.len() < first.len() + last.len()
        || !t[..first.len()].eq_ignore_ascii_case(first)
        || !t[t.len() - last.len()..].eq_ignore_ascii_case(last)
    {
        return false;
    }
    if last_star == star {
        return true;
    }
    let mut rest = &t[first.len()..t.len() - last.len()];
    for mid in p[star + 1..last_star].split(|&c| c == b'*') {
        if mid.is_empty() {
            continue;
        }
        match find_ignore_case(rest, mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// Words looked for in text, ignoring ASCII case: all of them in one pass (these run for
/// every event).
#[derive(Debug, Clone)]
pub struct Words {
    matcher: Matcher,
}

#[derive(Debug, Clone)]
enum Matcher {
    /// Words that all start with one letter (say `*audit-policy*` and `*auditsink*`):
    /// the places of that letter, found by `memchr`, are the only ones to try. On the
    /// short texts of an event this cost fewer instructions than the automaton's
    /// search (0.26 % of an audit of JSON lines, where the logging-tamper check runs it
    /// for every change).
    SameStart {
        lower: u8,
        upper: u8,
        words: Vec<Vec<u8>>,
    },
    Automaton(aho_corasick::AhoCorasick),
}

impl Words {
    pub fn new<S: AsRef<str>>(words: &[S]) -> Result<Words> {
        let bytes: Vec<&[u8]> = words.iter().map(|w| w.as_ref().as_bytes()).collect();
        let first = bytes
            .first()
            .and_then(|w| w.first())
            .map(u8::to_ascii_lowercase);
        let same_start = first
            .filter(|f| (bytes.iter()).all(|w| w.first().map(u8::to_ascii_lowercase) == Some(*f)));
        let matcher = match same_start {
            Some(f) => Matcher::SameStart {
                lower: f,
                upper: f.to_ascii_uppercase(),
                words: bytes.iter().map(|w| w.to_vec()).collect(),
            },
            None => Matcher::Automaton(
                aho_corasick::AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .build(&bytes)
                    .context("cannot build a word matcher")?,
            ),
        };
        Ok(Words { matcher })
    }

    /// Whether any word occurs in `text` (an empty word occurs in every text).
    pub fn found_in(&self, text: &str) -> bool {
        match &self.matcher {
            Matcher::SameStart {
                lower,
                upper,
                words,
            } => {
                let hay = text.as_bytes();
                memchr::memchr2_iter(*lower, *upper, hay).any(|at| {
                    words.iter().any(|w| {
                        hay.get(at..at + w.len())
                            .is_some_and(|h| h.eq_ignore_ascii_case(w))
                    })
                })
            }
            Matcher::Automaton(matcher) => matcher.is_match(text),
        }
    }
}

/// Glob patterns (see [`glob_match`]) that a text is tested against; those of the common
/// form `*word*` are looked for together in one pass.
#[derive(Debug, Clone)]
pub struct Globs {
    within: Option<Words>,
    others: Vec<String>,
}

impl Globs {
    pub fn new(patterns: &[String]) -> Result<Globs> {
        let (mut within, mut others) = (Vec::new(), Vec::new());
        for p in patterns {
            let middle = p
                .strip_prefix('*')
                .and_then(|p| p.strip_suffix('*'))
                .filter(|m| !m.is_empty() && !m.contains('*'));
            match middle {
                Some(m) => within.push(m),
                None => others.push(p.clone()),
            }
        }
        Ok(Globs {
            within: if within.is_empty() {
                None
            } else {
                Some(Words::new(&within)?)
            },
            others,
        })
    }

    /// Whether any pattern matches `text`.
    pub fn match_any(&self, text: &str) -> bool {
        self.within.as_ref().is_some_and(|w| w.found_in(text))
            || self.others.iter().any(|p| glob_match(p, text))
    }
}

/// Where `needle` (not empty) first occurs in `hay`, ignoring ASCII case.
pub(crate) fn find_ignore_case(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (lower, upper) = (
        needle[0].to_ascii_lowercase(),
        needle[0].to_ascii_uppercase(),
    );
    let mut from = 0;
    while let Some(p) = memchr::memchr2(lower, upper, &hay[from..]) {
        let at = from + p;
        let end = at.checked_add(needle.len()).filter(|&e| e <= hay.len())?;
        if hay[at..end].eq_ignore_ascii_case(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_found_as_a_case_blind_search_finds_them() {
        let lists: [&[&str]; 5] = [
            &["audit-policy", "auditsink"],
            &["Drop", "truncate", "rm -rf"],
            &["a"],
            &["x", ""],
            &["policy", "Policy"],
        ];
        let texts = [
            "",
            "a",
            "k8s:prod/AUDIT-POLICY",
            "k8s:prod/audit-polic",
            "AuditSink/x",
            "basket-svc-4",
            "DROP TABLE orders",
            "rm -r f",
            "no such words here",
            "xyz",
        ];
        for words in lists {
            let found = Words::new(words).unwrap();
            for t in texts {
                let naive = words
                    .iter()
                    .any(|w| t.to_ascii_lowercase().contains(&w.to_ascii_lowercase()));
                assert_eq!(found.found_in(t), naive, "{words:?} in {t:?}");
            }
        }
    }

    #[test]
    fn globs() {
        assert!(glob_match(
            "*agent*",
            "arn:aws:sts::1:assumed-role/opsbot-AGENT-role/s"
        ));
        assert!(glob_match(
            "claude-code/*",
            "claude-code/1.0.71 kubectl/v1.31.0"
        ));
        assert!(glob_match("system:*", "system:serviceaccount:argocd:x"));
        assert!(!glob_match("system:*", "j.okafor"));
        assert!(glob_match("*-prod", "shop-prod"));
        assert!(!glob_match("*-prod", "shop-prod-2"));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxcyyb"));
        assert!(glob_match("*", ""));
        assert!(glob_match("**", "anything"));
        assert!(glob_match("AB*", "abc"));
        assert!(!glob_match("a*a", "a"));
        assert!(glob_match("a*b*b*c", "abbc"));
        assert!(!glob_match("a*b*b*c", "abc"));
        assert!(glob_match("exact", "EXACT"));
        assert!(!glob_match("exact", "exactly"));
        // A set of globs agrees with the patterns one by one.
        let patterns: Vec<String> = ["*audit-policy*", "*Sink*", "x*y", "exact", "**"]
            .iter()
            .map(|p| p.to_string())
            .collect();
        for n in 1..=patterns.len() {
            let set = Globs::new(&patterns[..n]).unwrap();
            for text in [
                "k8s:AUDIT-POLICY.yaml",
                "an auditsink",
                "xy",
                "EXACT",
                "",
                "other",
            ] {
                let one_by_one = patterns[..n].iter().any(|p| glob_match(p, text));
                assert_eq!(
                    set.match_any(text),
                    one_by_one,
                    "{:?} {text}",
                    &patterns[..n]
                );
            }
        }
    }
}
