//! Widgets shared by the pages.

pub mod data_table;
pub mod flash;
pub mod pager;
pub mod status;
