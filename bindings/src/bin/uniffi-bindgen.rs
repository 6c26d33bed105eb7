//! The binding generator, built from the same uniffi version as the library it reads.
//! Used by `scripts/bindings` in library mode; never shipped.

fn main() {
    uniffi::uniffi_bindgen_main()
}
