//! Reports: JUnit XML of a flow check, and the SVG charts the HTML
//! reports draw with.

pub mod junit;
pub mod svg;
