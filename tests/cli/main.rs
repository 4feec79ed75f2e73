//! The two binaries driven as a user drives them: arguments in, exit status and output out.
//! One test binary, one module per binary.

mod logq;
mod skywatch;
