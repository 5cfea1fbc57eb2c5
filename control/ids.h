/* Generated session ids. */
#ifndef RTPPROXY_IDS_H
#define RTPPROXY_IDS_H

/* A random UUID (version 4 text, 36 characters) from the kernel's CSPRNG (getrandom(2));
 * 0, or -1 with errno when the kernel gives no random bytes. */
int ids_uuid4(char out[37]);

#endif
