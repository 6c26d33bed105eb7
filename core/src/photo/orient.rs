//! EXIF orientation. Phones store the sensor's pixels and a tag saying how to turn them; the
//! stored photo carries no metadata, so the turn must be baked into the pixels or the evidence
//! shows up sideways on the dispatcher's screen.

use image::metadata::Orientation;
use image::{DynamicImage, RgbImage};

/// Bake `orientation` into the pixels.
pub(crate) fn apply(image: RgbImage, orientation: Orientation) -> RgbImage {
    if orientation == Orientation::NoTransforms {
        return image;
    }
    let mut dynamic = DynamicImage::ImageRgb8(image);
    dynamic.apply_orientation(orientation);
    dynamic.into_rgb8()
}

/// Orientations 5-8 turn by a quarter, so the stored width is the camera's height.
#[cfg(test)]
pub(crate) fn swaps_axes(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarter_turns_swap_axes() {
        for tag in 1..=8u8 {
            let o = Orientation::from_exif(tag).unwrap();
            let turned = apply(RgbImage::new(4, 2), o);
            assert_eq!(turned.dimensions() == (2, 4), swaps_axes(o), "tag {tag}");
        }
    }
}
