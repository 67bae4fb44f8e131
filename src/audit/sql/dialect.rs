//! What differs between the SQL engines the script is written for: only the few
//! functions that have no common spelling (times, lists, reading files).

/// The SQL engine a script is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// DuckDB: runs on one machine, reads the JSON-lines files itself.
    Duckdb,
    /// Spark SQL (EMR, Glue, Databricks): reads a table.
    Spark,
    /// Trino and Amazon Athena: read a table.
    Trino,
}

impl Dialect {
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Duckdb => "duckdb",
            Dialect::Spark => "spark",
            Dialect::Trino => "trino",
        }
    }

    /// The local date (`YYYY-MM-DD`), time (`HH:MM`) and ISO day of the week (1 Monday to
    /// 7 Sunday) of epoch milliseconds in time zone `tz`, whatever the session's zone.
    pub fn local_parts(self, ms: &str, tz: &str) -> [String; 3] {
        let tz = self.quote(tz);
        match self {
            Dialect::Duckdb => {
                let local = format!("timezone({tz}, to_timestamp(({ms}) / 1000.0))");
                [
                    format!("strftime({local}, '%Y-%m-%d')"),
                    format!("strftime({local}, '%H:%M')"),
                    format!("isodow({local})"),
                ]
            }
            Dialect::Trino => {
                let local = format!("from_unixtime(({ms}) / 1000.0, {tz})");
                [
                    format!("format_datetime({local}, 'yyyy-MM-dd')"),
                    format!("format_datetime({local}, 'HH:mm')"),
                    format!("day_of_week({local})"),
                ]
            }
            Dialect::Spark => {
                // Spark formats a timestamp in the session's zone (set for reading events),
                // so the wall clock is worked out as numbers: from_utc_timestamp shifts the
                // instant by the zone's offset at that instant (DST included), and the
                // shifted epoch milliseconds are then split as if in UTC.
                let wall = format!("unix_millis(from_utc_timestamp(timestamp_millis({ms}), {tz}))");
                let day = format!("date_from_unix_date(CAST(floor(({wall}) / 86400000.0) AS INT))");
                [
                    format!("CAST({day} AS STRING)"),
                    format!(
                        "format_string('%02d:%02d', CAST(pmod({wall}, 86400000) DIV 3600000 AS INT), CAST(pmod({wall}, 3600000) DIV 60000 AS INT))"
                    ),
                    format!("(weekday({day}) + 1)"),
                ]
            }
        }
    }

    /// A list of text with `items` in it (none: an empty list of text).
    pub fn list_of(self, items: &[&str]) -> String {
        let items = items.join(", ");
        match self {
            Dialect::Duckdb => format!("CAST([{items}] AS VARCHAR[])"),
            Dialect::Trino => format!("CAST(ARRAY[{items}] AS ARRAY(VARCHAR))"),
            Dialect::Spark => format!("CAST(array({items}) AS ARRAY<STRING>)"),
        }
    }

    /// The text type's name.
    pub fn text_type(self) -> &'static str {
        match self {
            Dialect::Spark => "STRING",
            Dialect::Duckdb | Dialect::Trino => "VARCHAR",
        }
    }

    /// Epoch milliseconds (UTC) of a text timestamp: RFC 3339 with an offset, or a local
    /// time read in the session's time zone; NULL when it is not a time.
    pub fn millis_of_text(self, text: &str) -> String {
        match self {
            Dialect::Duckdb => format!("epoch_ms(TRY_CAST({text} AS TIMESTAMPTZ))"),
            // Spark reads `HH:MM` without seconds only when no offset follows: the
            // seconds are added first (`2026-10-25 01:30+01:00` is a time in a run).
            Dialect::Spark => format!(
                "unix_millis(try_to_timestamp(regexp_replace({text}, '^(.{{10}}[T ][0-9]{{2}}:[0-9]{{2}})([^:0-9]|$)', '$1:00$2')))"
            ),
            Dialect::Trino => {
                format!("CAST(to_unixtime(TRY(from_iso8601_timestamp({text}))) * 1000 AS BIGINT)")
            }
        }
    }

    /// A TIMESTAMP (UTC, no zone) from epoch milliseconds: what the findings schema's
    /// `first_at` and `last_at` hold.
    pub fn timestamp_of_millis(self, ms: &str) -> String {
        match self {
            Dialect::Duckdb => format!("make_timestamp(({ms}) * 1000)"),
            Dialect::Spark => format!("timestamp_millis({ms})"),
            Dialect::Trino => {
                format!("CAST(from_unixtime(({ms}) / 1000.0) AT TIME ZONE 'UTC' AS TIMESTAMP(3))")
            }
        }
    }

    /// RFC 3339 text (UTC, to the second) of epoch milliseconds, for evidence.
    pub fn rfc3339_of_millis(self, ms: &str) -> String {
        match self {
            Dialect::Duckdb => format!(
                "strftime(make_timestamp(({ms}) * 1000), '%Y-%m-%dT%H:%M:%SZ')"
            ),
            Dialect::Spark => {
                format!("date_format(timestamp_millis({ms}), \"yyyy-MM-dd'T'HH:mm:ss'Z'\")")
            }
            Dialect::Trino => format!(
                "format_datetime(from_unixtime(({ms}) / 1000.0) AT TIME ZONE 'UTC', 'yyyy-MM-dd''T''HH:mm:ss''Z''')"
            ),
        }
    }

    /// The distinct non-empty values of `column` in a group whose `rank` is at most `cap`,
    /// sorted.
    pub fn distinct_list(self, column: &str, rank: &str, cap: &str) -> String {
        let filter = format!("FILTER (WHERE {column} <> '' AND {rank} <= {cap})");
        match self {
            Dialect::Duckdb => {
                format!("list_sort(list(DISTINCT {column}) {filter})")
            }
            Dialect::Spark => {
                format!("array_sort(collect_set({column}) {filter})")
            }
            Dialect::Trino => {
                format!("array_sort(array_agg(DISTINCT {column}) {filter})")
            }
        }
    }

    /// Text joined: `a || b` is standard, but Spark reads `||` as concatenation only with
    /// ANSI mode; `concat` is everywhere (NULL in, NULL out in all three).
    pub fn concat(self, parts: &[&str]) -> String {
        format!("concat({})", parts.join(", "))
    }

    /// `text` as an SQL string literal.
    pub fn quote(self, text: &str) -> String {
        match self {
            // Spark reads a backslash as an escape, and `'a''b'` as two literals run together.
            Dialect::Spark => format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'")),
            Dialect::Duckdb | Dialect::Trino => format!("'{}'", text.replace('\'', "''")),
        }
    }

    /// A regwatch glob (`*` any text, the rest literal, case-insensitive) as a LIKE pattern
    /// with [`LIKE_ESCAPE`] as the escape character, in lower case.
    pub fn like_pattern(self, glob: &str) -> String {
        self.quote(&like_text(glob, true))
    }

    /// `lower(column) LIKE '%word%'`: true when `column` has `word` in it, in any case.
    pub fn contains(self, column: &str, word: &str) -> String {
        let pattern = format!("%{}%", like_text(word, false));
        format!(
            "lower({column}) LIKE {} ESCAPE '{LIKE_ESCAPE}'",
            self.quote(&pattern)
        )
    }

    /// `lower(column) LIKE pattern`, true when `column` matches the glob.
    pub fn glob(self, column: &str, pattern: &str) -> String {
        format!(
            "lower({column}) LIKE {} ESCAPE '{LIKE_ESCAPE}'",
            self.like_pattern(pattern)
        )
    }

    /// `column IN ('a', 'b')`, FALSE for an empty list.
    pub fn one_of(self, column: &str, values: &[String]) -> String {
        if values.is_empty() {
            return "FALSE".to_string();
        }
        let list: Vec<String> = values.iter().map(|v| self.quote(v)).collect();
        format!("{column} IN ({})", list.join(", "))
    }
}

/// `text` in lower case with LIKE's wildcards escaped; `*` becomes `%` for a glob.
fn like_text(text: &str, glob: bool) -> String {
    let mut out = String::new();
    for c in text.to_lowercase().chars() {
        match c {
            '*' if glob => out.push('%'),
            '%' | '_' | LIKE_ESCAPE => {
                out.push(LIKE_ESCAPE);
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// The LIKE escape character: `!`, as `\\` starts an escape in Spark's string literals.
pub const LIKE_ESCAPE: char = '!';

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_become_escaped_lower_case_like_patterns() {
        let d = Dialect::Duckdb;
        assert_eq!(d.like_pattern("*Audit_Policy*"), "'%audit!_policy%'");
        assert_eq!(d.like_pattern("it's 100%!"), "'it''s 100!%!!'");
        assert_eq!(d.one_of("x", &[]), "FALSE");
        assert_eq!(d.contains("a", "RM *"), "lower(a) LIKE '%rm *%' ESCAPE '!'");
        assert_eq!(Dialect::Spark.quote(r"it's a\b"), r"'it\'s a\\b'");
    }
}
