/**
 * Golden bytes captured from real EventStore servers (docs/wire-vectors.md, taken from photon-pump's
 * test suite), shared by the tests of each module. The hex is copied verbatim from the document.
 */

/** Bytes from space-separated hex. */
export const hex = (text: string): Uint8Array => {
  const digits = text.replace(/\s+/g, "")
  const bytes = new Uint8Array(digits.length / 2)
  for (let i = 0; i < bytes.length; i++) bytes[i] = Number.parseInt(digits.slice(2 * i, 2 * i + 2), 16)
  return bytes
}

/** Space-separated lower-case hex of some bytes, for readable assertion failures. */
export const toHex = (bytes: Uint8Array): string =>
  Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join(" ")

/** Section 1: a server HeartbeatRequest, header only (22 bytes, length 18). */
export const heartbeatRequest = hex(
  "12 00 00 00 01 00 9f 65 81 c1 0b 80 58 4b a8 5d" +
  "5f d3 fd c5 23 b9"
)

/**
 * Section 2: PersistentSubscriptionStreamEventAppeared delivering a `$ce-` link and the event it resolves
 * to (499 bytes).
 */
export const eventAppearedWithLink = hex(
  "ef 01 00 00 c7 00 2f d7 92 f1 bd 7a e4 4a ae 05" +
  "f2 06 87 3c 74 9d 0a da 03 0a c4 01 0a 31 43 61" +
  "6e 63 65 6c 6c 61 74 69 6f 6e 2d 64 37 36 32 61" +
  "35 33 34 2d 36 62 63 36 2d 34 37 36 38 2d 61 66" +
  "32 38 2d 32 61 62 63 66 37 31 61 31 33 34 39 10" +
  "00 1a 10 50 36 07 1d de 79 4f 35 88 25 c1 a7 ae" +
  "81 0b a8 22 14 63 61 6e 63 65 6c 6c 61 74 69 6f" +
  "6e 5f 73 74 61 72 74 65 64 28 01 30 01 3a 4e 7b" +
  "22 6f 72 64 65 72 5f 69 64 22 3a 20 22 31 32 33" +
  "22 2c 20 22 63 61 6e 63 65 6c 6c 61 74 69 6f 6e" +
  "5f 69 64 22 3a 20 22 64 37 36 32 61 35 33 34 2d" +
  "36 62 63 36 2d 34 37 36 38 2d 61 66 32 38 2d 32" +
  "61 62 63 66 37 31 61 31 33 34 39 22 7d 42 00 48" +
  "f8 cb b4 d7 e8 ec d5 ea 08 50 b3 ab 9a d9 8d 2c" +
  "12 90 02 0a 10 24 63 65 2d 43 61 6e 63 65 6c 6c" +
  "61 74 69 6f 6e 10 5d 1a 10 cc 6c 11 34 33 d4 93" +
  "4b bb d1 1c 79 d9 10 16 75 22 02 24 3e 28 00 30" +
  "00 3a 33 30 40 43 61 6e 63 65 6c 6c 61 74 69 6f" +
  "6e 2d 64 37 36 32 61 35 33 34 2d 36 62 63 36 2d" +
  "34 37 36 38 2d 61 66 32 38 2d 32 61 62 63 66 37" +
  "31 61 31 33 34 39 42 99 01 7b 22 24 76 22 3a 22" +
  "31 3a 2d 31 3a 31 3a 33 22 2c 22 24 63 22 3a 33" +
  "34 34 30 37 36 31 30 2c 22 24 70 22 3a 33 34 34" +
  "30 37 36 31 30 2c 22 24 6f 22 3a 22 43 61 6e 63" +
  "65 6c 6c 61 74 69 6f 6e 2d 64 37 36 32 61 35 33" +
  "34 2d 36 62 63 36 2d 34 37 36 38 2d 61 66 32 38" +
  "2d 32 61 62 63 66 37 31 61 31 33 34 39 22 2c 22" +
  "24 63 61 75 73 65 64 42 79 22 3a 22 31 64 30 37" +
  "33 36 35 30 2d 37 39 64 65 2d 33 35 34 66 2d 38" +
  "38 32 35 2d 63 31 61 37 61 65 38 31 30 62 61 38" +
  "22 7d 48 d2 e3 c7 d7 e8 ec d5 ea 08 50 d2 ab 9a" +
  "d9 8d 2c"
)

/** Section 3: PersistentSubscriptionStreamEventAppeared whose ResolvedIndexedEvent holds only the link: the
 * "required" `event` is absent because the target stream was deleted (189 bytes). */
export const eventAppearedLinkOnly = hex(
  "b9 00 00 00 c7 00 8b c0 2f 5a 9b 6b 5e 4b 97 7e" +
  "d0 7b e3 96 fb c7 0a a4 01 12 a1 01 0a 0a 24 65" +
  "74 2d 74 75 72 74 6c 65 10 00 1a 10 2c 47 8c 7a" +
  "2e c9 20 45 99 0d a7 49 f6 02 0b a1 22 02 24 3e" +
  "28 00 30 00 3a 06 30 40 73 6f 6d 65 42 5e 7b 22" +
  "24 76 22 3a 22 34 3a 2d 31 3a 31 3a 33 22 2c 22" +
  "24 63 22 3a 31 30 39 33 34 38 32 2c 22 24 70 22" +
  "3a 31 30 39 33 34 38 32 2c 22 24 63 61 75 73 65" +
  "64 42 79 22 3a 22 37 34 37 39 31 33 38 36 2d 31" +
  "33 38 36 2d 31 33 38 36 2d 31 33 38 36 2d 31 35" +
  "33 38 37 34 37 39 31 33 38 36 22 7d 48 84 ba ae" +
  "cc aa d9 8a eb 08 50 f8 f8 97 a4 e4 2c"
)

/** Section 4: ReadEventCompleted, Success, one event, no link (160 bytes). */
export const readEventCompleted = hex(
  "9c 00 00 00 b1 00 f3 b9 4a 36 6c fe 6d 43 a3 65" +
  "be ad 2e 1c e3 6b 08 00 12 85 01 0a 82 01 0a 24" +
  "64 37 39 32 34 64 37 35 2d 38 32 62 66 2d 34 37" +
  "36 34 2d 39 35 39 64 2d 31 30 36 31 32 62 61 32" +
  "39 38 37 33 10 00 1a 10 7d 27 65 7b 68 16 45 44" +
  "bf 1a 5d eb 90 eb dc d6 22 0e 74 68 69 6e 67 5f" +
  "68 61 70 70 65 6e 65 64 28 01 30 01 3a 1f 7b 22" +
  "74 68 69 6e 67 22 3a 20 31 2c 20 22 68 61 70 70" +
  "65 6e 69 6e 67 22 3a 20 74 72 75 65 7d 42 00 48" +
  "fc 9d cd d8 94 b9 d6 ea 08 50 a4 e6 a4 d6 8e 2c"
)

/** Section 5: a CreatePersistentSubscription request as photonpump (Python) encodes it, WITHOUT its
 * 4-byte length prefix (99 bytes). proto2-required fields holding 0/false are present. */
export const createPersistentSubscriptionBody = hex(
  "c8 00 7b 72 f5 8f a9 58 05 48 82 3a 45 1d 5e b3" +
  "07 f7 0a 11 62 65 73 74 2d 73 75 62 73 63 72 69" +
  "70 74 69 6f 6e 12 10 24 63 65 2d 43 61 6e 63 65" +
  "6c 6c 61 74 69 6f 6e 18 01 20 00 28 b0 ea 01 30" +
  "00 38 20 40 40 48 80 01 50 0a 58 01 60 d0 0f 68" +
  "e8 07 70 0a 78 00 82 01 0a 52 6f 75 6e 64 52 6f" +
  "62 69 6e"
)
