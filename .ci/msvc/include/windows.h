/* Stand-in for <windows.h> in the MSVC-mode syntax check: the declarations cxent uses, with
   the types and values of the Windows SDK (MinGW's windows.h does not parse in clang's MSVC
   mode). */
#pragma once
typedef void *HMODULE;
typedef const char *LPCSTR;
typedef char *LPSTR;
typedef unsigned long DWORD;
typedef int BOOL;
#define GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT 0x00000002
#define GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS 0x00000004
__declspec(dllimport) BOOL __stdcall GetModuleHandleExA(DWORD dwFlags, LPCSTR lpModuleName,
                                                       HMODULE *phModule);
__declspec(dllimport) DWORD __stdcall GetModuleFileNameA(HMODULE hModule, LPSTR lpFilename,
                                                        DWORD nSize);
