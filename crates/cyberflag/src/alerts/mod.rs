//! `cyberflag alerts …`: detectors for analysts (`backtest`), one week on demand (`scan`), the
//! alerting service (`run`) and its measured performance on simulations (`evaluate`).

mod backtest;
mod evaluate;
mod list;
mod run;
mod scan;
mod webhook;

pub use backtest::backtest;
pub use evaluate::evaluate;
pub use list::list;
pub use run::run;
pub use scan::scan;
