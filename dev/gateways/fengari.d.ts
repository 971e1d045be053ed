// The subset of fengari (Lua 5.3 in JS, no bundled types) used by the embedded Redis stand-in.
declare module 'fengari' {
  /** Opaque Lua state. */
  export interface LuaState {
    readonly __fengariLuaState: never;
  }
  /** Lua strings are byte arrays. */
  export type LuaString = Uint8Array;
  export type LuaJsFunction = (L: LuaState) => number;
  export type LuaHook = (L: LuaState, ar: unknown) => void;

  export interface Lua {
    readonly LUA_OK: number;
    readonly LUA_MULTRET: number;
    readonly LUA_REGISTRYINDEX: number;
    readonly LUA_MASKCOUNT: number;
    readonly LUA_TNONE: number;
    readonly LUA_TNIL: number;
    readonly LUA_TBOOLEAN: number;
    readonly LUA_TNUMBER: number;
    readonly LUA_TSTRING: number;
    readonly LUA_TTABLE: number;
    readonly LUA_TFUNCTION: number;
    lua_close(L: LuaState): void;
    lua_gettop(L: LuaState): number;
    lua_settop(L: LuaState, index: number): void;
    lua_pop(L: LuaState, n: number): void;
    lua_insert(L: LuaState, index: number): void;
    lua_type(L: LuaState, index: number): number;
    lua_isinteger(L: LuaState, index: number): boolean;
    lua_tointeger(L: LuaState, index: number): number;
    lua_tonumber(L: LuaState, index: number): number;
    lua_toboolean(L: LuaState, index: number): boolean;
    lua_tolstring(L: LuaState, index: number): LuaString | null;
    lua_pushnil(L: LuaState): void;
    lua_pushboolean(L: LuaState, value: boolean): void;
    lua_pushinteger(L: LuaState, value: number): void;
    lua_pushnumber(L: LuaState, value: number): void;
    lua_pushstring(L: LuaState, value: LuaString | string): LuaString;
    lua_pushjsfunction(L: LuaState, fn: LuaJsFunction): void;
    lua_pushvalue(L: LuaState, index: number): void;
    lua_createtable(L: LuaState, narr: number, nrec: number): void;
    lua_rawgeti(L: LuaState, index: number, n: number): number;
    lua_rawseti(L: LuaState, index: number, n: number): void;
    lua_rawlen(L: LuaState, index: number): number;
    lua_getfield(L: LuaState, index: number, key: LuaString | string): number;
    lua_setfield(L: LuaState, index: number, key: LuaString | string): void;
    lua_getglobal(L: LuaState, name: LuaString | string): number;
    lua_setglobal(L: LuaState, name: LuaString | string): void;
    lua_next(L: LuaState, index: number): boolean;
    lua_pcall(L: LuaState, nargs: number, nresults: number, msgh: number): number;
    lua_error(L: LuaState): never;
    lua_sethook(L: LuaState, hook: LuaHook | null, mask: number, count: number): void;
    lua_checkstack(L: LuaState, n: number): boolean;
    lua_touserdata(L: LuaState, index: number): unknown;
    /** Turns JS exceptions thrown inside JS functions into Lua errors (the handler pushes the error value). */
    lua_atnativeerror(L: LuaState, handler: LuaJsFunction | null): LuaJsFunction | null;
  }

  export interface LuaAuxLib {
    luaL_newstate(): LuaState;
    luaL_loadbuffer(L: LuaState, buffer: LuaString, size: number | null, chunkname: LuaString | string): number;
    luaL_requiref(L: LuaState, name: LuaString | string, open: LuaJsFunction, global: boolean): void;
    luaL_ref(L: LuaState, table: number): number;
    luaL_unref(L: LuaState, table: number, ref: number): void;
  }

  export interface LuaLib {
    luaopen_base: LuaJsFunction;
    luaopen_table: LuaJsFunction;
    luaopen_string: LuaJsFunction;
    luaopen_math: LuaJsFunction;
    luaopen_debug: LuaJsFunction;
  }

  export interface Fengari {
    lua: Lua;
    lauxlib: LuaAuxLib;
    lualib: LuaLib;
    to_luastring: (value: string) => LuaString;
    to_jsstring: (value: LuaString) => string;
  }

  const fengari: Fengari;
  export default fengari;
}
