-- A C reference whose shared object does not exist.
return require "copy" { reference = { c = "no_such_ref.so", symbol = "copy_ref" } }
