//! The page's scripts and style, embedded in the binary: served live by `server` and inlined into
//! the self-contained HTML of `report`.

pub(crate) const APP_JS: &str = include_str!("../assets/app.js");
pub(crate) const CHARTS_JS: &str = include_str!("../assets/charts.js");
pub(crate) const APP_CSS: &str = include_str!("../assets/app.css");
