//! Widgets shared by the pages.

pub mod chart;
pub mod data_table;
pub mod flash;
pub mod pager;
pub mod status;
pub mod tenant_select;
