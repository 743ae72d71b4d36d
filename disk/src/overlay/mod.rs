//! placeholder
pub trait OverlayStore {}
pub struct CowOverlay;
