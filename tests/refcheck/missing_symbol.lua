-- A shared object without the named function (examples/scale_c's, built by the build).
return require "copy" { reference = { c = "../../examples/scale_c/scale_ref.so", symbol = "no_such_symbol" } }
