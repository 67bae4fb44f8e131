//! Rows of a Parquet file as JSON objects, for files whose columns are nested (OCSF, as
//! Security Lake writes it) or few (findings an SQL engine wrote): read a slice of rows
//! at a time, so memory stays bounded whatever the file's size.

use anyhow::Result;
use polars::prelude::{AnyValue, ArrowDataType, PolarsError, SerReader};
use serde_json::{json, Map, Value};

use crate::error::bad_input;

/// Rows decoded at a time.
const SLICE: usize = 1 << 14;

/// Calls `each` with every row of the Parquet file at `path` (`name` in messages), as an
/// object of its columns, numbered from 1; after each slice of rows, `flush`. Columns
/// holding a Parquet MAP are left out: this polars cannot read them from a file without
/// an Arrow schema (as DuckDB and Spark write them).
pub fn read_rows(
    path: &std::path::Path,
    name: &str,
    each: &mut dyn FnMut(u64, Value) -> Result<()>,
    flush: &mut dyn FnMut() -> Result<()>,
) -> Result<()> {
    use polars::prelude::ParquetReader;
    let open = || -> Result<ParquetReader<std::fs::File>> {
        let f =
            std::fs::File::open(path).map_err(|e| bad_input(format!("cannot read {name}: {e}")))?;
        Ok(ParquetReader::new(f))
    };
    let not_parquet = |e: PolarsError| bad_input(format!("{name}: not a Parquet file: {e}"));
    let mut probe = open()?;
    let rows = probe.num_rows().map_err(not_parquet)?;
    let columns: Vec<String> = (probe.schema().map_err(not_parquet)?.iter())
        .filter(|(_, field)| !holds_map(field.dtype()))
        .map(|(column, _)| column.to_string())
        .collect();
    for offset in (0..rows).step_by(SLICE) {
        let len = SLICE.min(rows - offset);
        let df = open()?
            .with_columns(Some(columns.clone()))
            .with_slice(Some((offset, len)))
            .finish()
            .map_err(|e| bad_input(format!("{name}: {e}")))?;
        for row in 0..df.height() {
            let mut o = Map::new();
            for c in df.columns() {
                let v = c.get(row).map_err(|e| bad_input(format!("{name}: {e}")))?;
                o.insert(c.name().to_string(), json_of(&v));
            }
            each((offset + row + 1) as u64, Value::Object(o))?;
        }
        flush()?;
    }
    Ok(())
}

/// Whether a Parquet column's type is or holds a MAP.
fn holds_map(dtype: &ArrowDataType) -> bool {
    use ArrowDataType as D;
    match dtype {
        D::Map(..) => true,
        D::List(f) | D::LargeList(f) | D::FixedSizeList(f, _) => holds_map(f.dtype()),
        D::Struct(fields) => fields.iter().any(|f| holds_map(f.dtype())),
        _ => false,
    }
}

/// A Parquet value as the JSON a JSON record would hold: structs as objects, lists as
/// arrays, timestamps as epoch milliseconds.
fn json_of(v: &AnyValue) -> Value {
    use polars::prelude::{AnyValue as A, TimeUnit};
    match v {
        A::Null => Value::Null,
        A::Boolean(b) => json!(b),
        A::String(s) => json!(s),
        A::StringOwned(s) => json!(s.as_str()),
        A::Int8(n) => json!(n),
        A::Int16(n) => json!(n),
        A::Int32(n) => json!(n),
        A::Int64(n) => json!(n),
        A::UInt8(n) => json!(n),
        A::UInt16(n) => json!(n),
        A::UInt32(n) => json!(n),
        A::UInt64(n) => json!(n),
        A::Float32(n) => json!(n),
        A::Float64(n) => json!(n),
        A::Datetime(t, unit, _) => json!(match unit {
            TimeUnit::Nanoseconds => t / 1_000_000,
            TimeUnit::Microseconds => t / 1_000,
            TimeUnit::Milliseconds => *t,
        }),
        A::List(s) => Value::Array(s.iter().map(|x| json_of(&x)).collect()),
        A::Struct(_, _, fields) => Value::Object(
            fields
                .iter()
                .zip(v._iter_struct_av())
                .map(|(f, x)| (f.name().to_string(), json_of(&x)))
                .collect(),
        ),
        A::StructOwned(payload) => Value::Object(
            (payload.1.iter())
                .zip(payload.0.iter())
                .map(|(f, x)| (f.name().to_string(), json_of(x)))
                .collect(),
        ),
        other => json!(other.str_value()),
    }
}
