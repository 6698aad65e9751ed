//! Numeric conversions, in one place. Every other module converts through
//! [`Cast`] (the workspace denies `as` conversions), so what a conversion
//! does at its edges is written down once:
//! - integer to integer saturates: a value out of range becomes the
//!   target's nearest bound, never a wrapped one;
//! - float to integer truncates towards zero and saturates (NaN is 0),
//!   which is what Rust's `as` does;
//! - integer to float rounds to the nearest float; counts, sizes and
//!   milliseconds here stay far below 2^53, where that is exact.
#![allow(
    clippy::as_conversions,
    reason = "the one module that converts with `as`, each rule stated above"
)]

/// Conversions between the primitive numbers, with the rules in the
/// module's documentation.
pub trait Cast: Copy {
    fn to_f64(self) -> f64;
    fn to_f32(self) -> f32;
    fn sat_u64(self) -> u64;
    fn sat_i64(self) -> i64;
    fn sat_usize(self) -> usize;
    fn sat_u32(self) -> u32;
    fn sat_i32(self) -> i32;
    fn sat_u16(self) -> u16;
    fn sat_u8(self) -> u8;
}

macro_rules! saturate {
    ($value:expr, $target:ty) => {
        <$target>::try_from($value).unwrap_or(if $value > 0 { <$target>::MAX } else { <$target>::MIN })
    };
}

macro_rules! integer {
    ($($t:ty),*) => {$(
        impl Cast for $t {
            fn to_f64(self) -> f64 { self as f64 }
            fn to_f32(self) -> f32 { self as f32 }
            fn sat_u64(self) -> u64 { saturate!(self, u64) }
            fn sat_i64(self) -> i64 { saturate!(self, i64) }
            fn sat_usize(self) -> usize { saturate!(self, usize) }
            fn sat_u32(self) -> u32 { saturate!(self, u32) }
            fn sat_i32(self) -> i32 { saturate!(self, i32) }
            fn sat_u16(self) -> u16 { saturate!(self, u16) }
            fn sat_u8(self) -> u8 { saturate!(self, u8) }
        }
    )*};
}

macro_rules! float {
    ($($t:ty),*) => {$(
        impl Cast for $t {
            fn to_f64(self) -> f64 { self as f64 }
            fn to_f32(self) -> f32 { self as f32 }
            fn sat_u64(self) -> u64 { self as u64 }
            fn sat_i64(self) -> i64 { self as i64 }
            fn sat_usize(self) -> usize { self as usize }
            fn sat_u32(self) -> u32 { self as u32 }
            fn sat_i32(self) -> i32 { self as i32 }
            fn sat_u16(self) -> u16 { self as u16 }
            fn sat_u8(self) -> u8 { self as u8 }
        }
    )*};
}

integer!(u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize);
float!(f32, f64);

#[cfg(test)]
mod tests {
    use super::Cast;

    #[test]
    fn integers_saturate_at_the_targets_bounds() {
        assert_eq!((-1i64).sat_u64(), 0);
        assert_eq!(300u32.sat_u8(), u8::MAX);
        assert_eq!((-300i32).sat_u8(), 0);
        assert_eq!(u64::MAX.sat_i64(), i64::MAX);
        assert_eq!(i64::MIN.sat_i32(), i32::MIN);
        assert_eq!(42usize.sat_u32(), 42);
        assert_eq!((-7i64).sat_i32(), -7);
    }

    #[test]
    fn floats_truncate_and_saturate_and_nan_is_zero() {
        assert_eq!(2.9f64.sat_u64(), 2);
        assert_eq!((-2.9f64).sat_i64(), -2);
        assert_eq!((-1.0f64).sat_u64(), 0);
        assert_eq!(1e30f64.sat_u32(), u32::MAX);
        assert_eq!(f64::NAN.sat_usize(), 0);
        assert!((3u64.to_f64() - 3.0).abs() < f64::EPSILON);
        assert!((0.5f32.to_f64() - 0.5).abs() < f64::EPSILON);
    }
}
