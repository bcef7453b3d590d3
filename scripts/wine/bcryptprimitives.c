/*
 * bcryptprimitives.c — a stand-in for Windows' bcryptprimitives.dll, for
 * running Go test binaries under Debian 12's wine64 (8.0), which does not
 * ship that DLL. Go ≥ 1.22 takes its random numbers from ProcessPrng in
 * bcryptprimitives.dll and stops at start-up without it ("fatal error:
 * bcryptprimitives.dll not found"). This forwards to BCryptGenRandom with
 * the system RNG, which wine implements. Test use only: never shipped.
 */
#include <windows.h>
#include <bcrypt.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	while (len > 0) {
		ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
		if (BCryptGenRandom(NULL, data, n, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0)
			return FALSE;
		data += n;
		len -= n;
	}
	return TRUE;
}
