//! The query engine's integration tests, in one test binary: the conformance cases, the public
//! corpus, the every-path comparisons (direct stats, parallel inputs, top-k) and the parser's
//! robustness.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::float_cmp)]

mod conformance;
mod corpus;
mod direct_stats;
mod every_path;
mod parallel_inputs;
mod parser_robustness;
mod support;
mod top_k;
