//! The values clap offers for library types. The library does not depend on clap, so each
//! list mirrors its library enum here (same names, same help) and converts into it.

use clap::ValueEnum;

/// A clap value enum mirroring a library enum variant for variant.
macro_rules! mirror {
    ($(#[$doc:meta])* $name:ident => $lib:path { $($(#[$vdoc:meta])* $variant:ident),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
        pub enum $name {
            $($(#[$vdoc])* $variant),*
        }

        impl From<$name> for $lib {
            fn from(v: $name) -> $lib {
                match v {
                    $($name::$variant => <$lib>::$variant),*
                }
            }
        }

        /// The way back, whose exhaustive match stops the build when the library gains
        /// a value this list lacks.
        impl From<$lib> for $name {
            fn from(v: $lib) -> $name {
                match v {
                    $(<$lib>::$variant => $name::$variant),*
                }
            }
        }
    };
}

mirror!(
    /// Where a clock stands (`--only`).
    StatusArg => regwatch::regimes::deadline::Status {
        /// Not done and past the deadline (for a tolerance: breached now).
        Overdue,
        /// Not done; a warning threshold has been crossed.
        DueSoon,
        /// Not done; no threshold crossed yet.
        Due,
        /// Applies, but the event that starts the clock has not happened yet.
        NotStarted,
        /// Done after the deadline (for a tolerance: it was breached).
        MetLate,
        /// Done in time.
        Met,
        /// The regime does not apply to this incident (with the reason).
        NotApplicable,
    }
);

mirror!(
    /// How an incident file is laid out (`--input-format`).
    InputFormatArg => regwatch::incidents::ingest::InputFormat {
        Csv,
        /// A JSON array of objects, or JSON lines if the file starts with `{`.
        Json,
        /// One JSON object per line.
        Jsonl,
    }
);

mirror!(
    /// How an audit file is laid out (`audit --input-format`).
    SourceFormatArg => regwatch::audit::sources::SourceFormat {
        /// Native schema, one JSON object per line.
        Jsonl,
        /// Native schema, CSV with a header row.
        Csv,
        /// Native schema, Parquet.
        Parquet,
        /// AWS CloudTrail log files (`{"Records": [...]}`).
        Cloudtrail,
        /// Kubernetes audit log (`audit.k8s.io/v1` Event, JSON lines).
        K8s,
        /// OCSF API Activity (class 6003, as Amazon Security Lake stores it: JSON lines or Parquet).
        Ocsf,
    }
);

mirror!(
    /// How severe a finding is (`--fail-on`).
    SeverityArg => regwatch::controls::Severity {
        Low,
        Medium,
        High,
        Critical,
    }
);

mirror!(
    /// When tables are coloured (`--color`).
    ColorArg => regwatch::render::terminal::ColorChoice {
        /// On a terminal, unless NO_COLOR is set.
        Auto,
        /// Always, even into a pipe or file.
        Always,
        /// Never.
        Never,
    }
);
