//! What several of the query tests share: answers compared as sets, the conformance case
//! format, and the fixture files.

pub mod answer;
pub mod cases;
pub mod fixtures;
