-- A built-in reference name that kiln does not have.
return require "copy" { reference = "no_such_reference" }
