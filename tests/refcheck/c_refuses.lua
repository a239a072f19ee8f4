-- A C reference that refuses the call and says why: scale_ref wants a tensor 'y', and copy has 'z'.
return require "copy" { reference = { c = "../../examples/scale_c/scale_ref.so", symbol = "scale_ref" } }
