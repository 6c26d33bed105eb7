#!/usr/bin/env bash
# Build FieldCoreFFI.xcframework for device and simulators and place the generated Swift where
# Package.swift expects it. Run on macOS with Xcode and rustup:
#   rustup target add aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios
#   ios/scripts/build-xcframework.sh            # phone profile (release-mobile)
#   PROFILE=dev ios/scripts/build-xcframework.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

profile="${PROFILE:-release-mobile}"
case "$profile" in dev) out="debug" ;; *) out="$profile" ;; esac
target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
export IPHONEOS_DEPLOYMENT_TARGET=15.0

# SQLite's Apple-only "locking style" code calls statfs/fstatfs to tell file systems apart:
# required-reason disk-space APIs the app has no reason to declare. The app's database is a
# local file in its container, where plain POSIX locks (SQLite's default elsewhere) are right.
for target in aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios; do
  LIBSQLITE3_FLAGS="-DSQLITE_ENABLE_LOCKING_STYLE=0" \
    cargo build -p fieldcore-ffi --lib --locked --profile "$profile" --target "$target"
done

# The device library's required-reason API symbols must be declared in the package's privacy
# manifest (https://developer.apple.com/documentation/bundleresources/describing-use-of-required-reason-api).
manifest=ios/Sources/FieldCore/PrivacyInfo.xcprivacy
imports=$(nm -u -j "$target_dir/aarch64-apple-ios/$out/libfieldcore_ffi.a" 2>/dev/null | sort -u)
require_declared() {
  local category=$1; shift
  for sym in "$@"; do
    if grep -qx "_$sym" <<<"$imports"; then
      if ! grep -q "<string>$category</string>" "$manifest"; then
        echo "error: libfieldcore_ffi.a calls $sym ($category), not declared in $manifest" >&2
        exit 1
      fi
      echo "required-reason API: $sym ($category, declared)"
    fi
  done
}
require_declared NSPrivacyAccessedAPICategoryFileTimestamp \
  stat fstat fstatat lstat getattrlist getattrlistbulk fgetattrlist getattrlistat
require_declared NSPrivacyAccessedAPICategoryDiskSpace statfs fstatfs statvfs fstatvfs
require_declared NSPrivacyAccessedAPICategorySystemBootTime mach_absolute_time

# Generated Swift, header and module map (library mode, from the host build).
scripts/bindings >/dev/null
gen=ios/build/generated/swift
headers=ios/build/xcframework/headers
rm -rf ios/build/xcframework ios/FieldCoreFFI.xcframework
mkdir -p "$headers" ios/build/xcframework/sim ios/Sources/FieldCore/Generated
cp "$gen/FieldCoreFFIC.h" "$headers/"
cp "$gen/FieldCoreFFIC.modulemap" "$headers/module.modulemap"
cp "$gen/FieldCoreFFI.swift" ios/Sources/FieldCore/Generated/

# One simulator library for both simulator architectures.
lipo -create \
  "$target_dir/aarch64-apple-ios-sim/$out/libfieldcore_ffi.a" \
  "$target_dir/x86_64-apple-ios/$out/libfieldcore_ffi.a" \
  -output ios/build/xcframework/sim/libfieldcore_ffi.a

xcodebuild -create-xcframework \
  -library "$target_dir/aarch64-apple-ios/$out/libfieldcore_ffi.a" -headers "$headers" \
  -library ios/build/xcframework/sim/libfieldcore_ffi.a -headers "$headers" \
  -output ios/FieldCoreFFI.xcframework

echo "ios/FieldCoreFFI.xcframework and ios/Sources/FieldCore/Generated/FieldCoreFFI.swift are ready"
