/*
 * kl_module.c - the `kiln` Lua module: one library table holding every op family and the recipe
 * declaration functions. The same table is the __index of kiln values, so `t:sum(1)` and
 * `k.sum(t, 1)` are one function. Recipes reach it with `require "kiln"`.
 */
#include "kl_lib.h"

int luaopen_kiln(lua_State *L) {
  const luaL_Reg *families[] = {kl_math_lib, kl_tile_lib, kl_memory_lib, kl_control_lib, kl_declare_lib};
  lua_newtable(L);
  for (size_t i = 0; i < sizeof families / sizeof *families; i++) luaL_setfuncs(L, families[i], 0);
  kl_value_open(L, -1);
  luaL_newmetatable(L, KL_ARG_MT);
  luaL_newmetatable(L, KL_RECIPE_MT);
  lua_pop(L, 2);
  return 1;
}

void kl_preload(lua_State *L) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_kiln);
  lua_setfield(L, -2, "kiln");
  lua_pop(L, 1);
}
