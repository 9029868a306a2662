//! Fonts compiled into the binary and registered with plotters' `ab_glyph` renderer.
//!
//! plotters is built without `ttf`/fontconfig on purpose: a CI box or a container often has no
//! system fonts at all, and a chart with invisible text is worse than no chart. DejaVu Sans
//! (Bitstream Vera licence, see `assets/fonts/`) covers the arrows, ≤ and × we print.

use std::sync::Once;

use plotters::style::{register_font, FontStyle};

/// The family name every chart asks for.
pub const FAMILY: &str = "sans-serif";

static REGULAR: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/fonts/DejaVuSans.ttf"
));
static BOLD: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/assets/fonts/DejaVuSans-Bold.ttf"
));

static REGISTER: Once = Once::new();

/// Register the embedded fonts once per process. Safe to call from every renderer.
pub fn ensure_registered() {
    REGISTER.call_once(|| {
        // The bytes are our own embedded TTFs; a parse failure would be a broken build, and
        // plotters then reports "font unavailable" from the first text draw, which we surface.
        let _ = register_font(FAMILY, FontStyle::Normal, REGULAR);
        let _ = register_font(FAMILY, FontStyle::Bold, BOLD);
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn embedded_fonts_parse() {
        assert!(ab_glyph_parses(super::REGULAR));
        assert!(ab_glyph_parses(super::BOLD));
    }

    fn ab_glyph_parses(bytes: &'static [u8]) -> bool {
        plotters::style::register_font("peakready-test", plotters::style::FontStyle::Normal, bytes)
            .is_ok()
    }
}
