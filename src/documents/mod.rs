//! The documents regwatch writes: the monthly report model, the breach register, the
//! drafts for regulators, and the report's files with their manifest (`publish`).
//! Drawing them as PDF is in `render`.

pub mod data_quality;
pub mod drafts;
pub mod publish;
pub mod register;
pub mod report;

use std::path::Path;

use anyhow::Result;
use handlebars::{handlebars_helper, Handlebars};

handlebars_helper!(count: |n: u64| crate::util::text::thousands(n));

/// One document template, `name` from the templates folder `dir` or built in, registered
/// as `as_name`: strict (a misspelt field is an error, not a blank), every value escaped
/// with `escape` for its format, and the helper `count` (`{{count n}}` prints 1,234,567).
pub(crate) fn load_template(
    dir: Option<&Path>,
    name: &str,
    as_name: &str,
    escape: fn(&str) -> String,
) -> Result<Handlebars<'static>> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_escape_fn(escape);
    hb.register_helper("count", Box::new(count));
    let (text, origin) = crate::util::defaults::read_template(dir, name)?;
    hb.register_template_string(as_name, text)
        .map_err(|e| crate::error::bad_input(format!("template {}: {e}", origin.label())))?;
    Ok(hb)
}
