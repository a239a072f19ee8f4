/*
 * kl_module.c - the `kiln` Lua module: one library table holding every op family and the recipe
 * declaration functions. The same table is the __index of kiln values, so `t:sum(1)` and
 * `k.sum(t, 1)` are one function. Recipes reach it with `require "kiln"`.
 *
 * Every metatable kiln gives a recipe is locked (`__metatable`): a recipe cannot read it to dress
 * another object as a kiln one, nor swap it; C code still checks each userdata by its metatable.
 */
#include "kl_lib.h"

int luaopen_kiln(lua_State *L) {
  const luaL_Reg *families[] = {kl_math_lib, kl_tile_lib, kl_memory_lib, kl_control_lib, kl_declare_lib};
  lua_newtable(L);
  for (size_t i = 0; i < sizeof families / sizeof *families; i++) luaL_setfuncs(L, families[i], 0);
  kl_value_open(L, -1);
  luaL_newmetatable(L, KL_ARG_MT);
  kl_lock_metatable(L, -1);
  luaL_newmetatable(L, KL_RECIPE_MT);
  kl_lock_metatable(L, -1);
  lua_pop(L, 2);
  return 1;
}

void kl_lock_metatable(lua_State *L, int mt) {
  mt = lua_absindex(L, mt);
  lua_pushboolean(L, 0);
  lua_setfield(L, mt, "__metatable");
}

void kl_preload(lua_State *L) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, luaopen_kiln);
  lua_setfield(L, -2, "kiln");
  lua_pop(L, 1);
}
