#ifndef CROSSWIND_CPCAP_SHIM_H
#define CROSSWIND_CPCAP_SHIM_H
#include <pcap/pcap.h>
#endif
