// Valid .pocket files of every kind the runtime reads, the fuzzer's seeds: SASRec (OD-Rec and
// standard) with a dense table, 2 semi-tensor-train cores (t = 2) or a plain tensor train (t = 1),
// each in f32 and in i8 with contiguous ids; SASRec with a product-quantised table (with and without
// a rotation); Caser and Fossil.
#pragma once

#include <string>

#include "runtime/tiny_pocket.h"

namespace pocketrec::testing {

// Writes seed<i>.pocket files into `dir`; returns how many.
inline int write_fuzz_seeds(const std::string& dir) {
  int i = 0;
  for (bool odrec : {true, false})
    for (int table : {0, 1, 2}) {  // dense, STT (t = 2), plain TT (t = 1)
      TinySasRec spec;
      spec.odrec = odrec;
      spec.stt = table > 0;
      spec.n_items = 12, spec.dim = 4, spec.inner = 4, spec.max_len = 3;
      spec.I1 = 3, spec.I2 = 4, spec.J1 = 2, spec.J2 = 2, spec.rank = 2, spec.t = table == 2 ? 1 : 2;
      spec.writer().save(dir + "/seed" + std::to_string(i++) + ".pocket");
      spec.int8 = true;
      spec.id_base = 1;
      spec.writer().save(dir + "/seed" + std::to_string(i++) + ".pocket");
    }
  for (bool rotation : {false, true}) {  // product-quantised tables
    TinySasRec spec;
    spec.pq = true, spec.pq_rotation = rotation;
    spec.n_items = 12, spec.dim = 4, spec.inner = 4, spec.max_len = 3, spec.M = 2, spec.K = 4;
    spec.writer().save(dir + "/seed" + std::to_string(i++) + ".pocket");
  }
  TinyCaser caser;
  caser.writer().save(dir + "/seed" + std::to_string(i++) + ".pocket");
  TinyFossil fossil;
  fossil.writer().save(dir + "/seed" + std::to_string(i++) + ".pocket");
  return i;
}

}  // namespace pocketrec::testing
