// Internals shared by the io-*.cpp files: the HDF5 type of each element type, file names.
#pragma once

#include <sys/types.h>

#include "lib/io/io.h"

namespace k1rl::io {

std::string object_file_name(hid_t obj);  // the file an object lives in ("?" if unknown)
// fsync the temporary file, rename it to its final name, fsync the folder; throws IoError.
void rename_into_place(const std::string& temp, const std::string& final_path);
// Reserves (fallocate, beyond the end) the room a final H5Fflush of `file` needs, or throws
// IoError when the disk has none: in libhdf5 1.10 a failed H5Fflush leaves the metadata cache
// unable to flush again, so the file could never be closed. Returns the reserved end, or -1 when
// nothing was reserved (MPI-IO driver; a filesystem without fallocate). After the close,
// release_flush_room gives back what the flush did not use.
off_t reserve_flush_room(hid_t file, const std::string& temp);
void release_flush_room(const std::string& temp, off_t end);

template <class T>
struct H5Type;
#define K1RL_H5_TYPE(T, MEM, FILE)           \
  template <>                                \
  struct H5Type<T> {                         \
    static hid_t mem() { return MEM; }       \
    static hid_t file() { return FILE; }     \
    static const char* name() { return #T; } \
  };
K1RL_H5_TYPE(float, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE)
K1RL_H5_TYPE(double, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE)
K1RL_H5_TYPE(int32_t, H5T_NATIVE_INT32, H5T_STD_I32LE)
K1RL_H5_TYPE(int64_t, H5T_NATIVE_INT64, H5T_STD_I64LE)
K1RL_H5_TYPE(uint8_t, H5T_NATIVE_UINT8, H5T_STD_U8LE)
K1RL_H5_TYPE(uint16_t, H5T_NATIVE_UINT16, H5T_STD_U16LE)
K1RL_H5_TYPE(uint64_t, H5T_NATIVE_UINT64, H5T_STD_U64LE)
#undef K1RL_H5_TYPE

}  // namespace k1rl::io
