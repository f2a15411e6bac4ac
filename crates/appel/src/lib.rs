//! The `appel` command line's building blocks, kept in a library so tests reach them directly.

pub mod access;
pub mod admin;
pub mod agent;
pub mod bench;
pub mod calls;
pub mod catalog;
pub mod explain;
pub mod locale;
pub mod rest;
