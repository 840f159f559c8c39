//! Widgets shared by the pages.

pub mod flash;
pub mod pager;
pub mod status;
