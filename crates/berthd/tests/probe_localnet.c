/* Sends one TCP SYN from this container's eth0 straight to the gateway's
 * MAC, addressed to DST:PORT, and waits for the answer: "reached" when a
 * SYN-ACK (or RST) comes back from DST:PORT, "blocked" when nothing comes
 * within three seconds. Needs CAP_NET_RAW (a default capability). */
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static unsigned short sum(const void *data, int len, unsigned int acc) {
    const unsigned short *p = data;
    while (len > 1) { acc += *p++; len -= 2; }
    if (len) acc += *(const unsigned char *)p;
    while (acc >> 16) acc = (acc & 0xffff) + (acc >> 16);
    return (unsigned short)~acc;
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: probe GW-MAC DST PORT\n"); return 2; }
    unsigned char gw[6];
    if (sscanf(argv[1], "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &gw[0], &gw[1], &gw[2], &gw[3], &gw[4], &gw[5]) != 6) return 2;
    struct in_addr dst;
    if (inet_pton(AF_INET, argv[2], &dst) != 1) return 2;
    unsigned short port = (unsigned short)atoi(argv[3]);
    int s = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_IP));
    if (s < 0) { perror("socket"); return 2; }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "eth0");
    if (ioctl(s, SIOCGIFINDEX, &ifr) < 0) { perror("ifindex"); return 2; }
    int ifindex = ifr.ifr_ifindex;
    if (ioctl(s, SIOCGIFHWADDR, &ifr) < 0) { perror("hwaddr"); return 2; }
    unsigned char mac[6];
    memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
    ifr.ifr_addr.sa_family = AF_INET;
    if (ioctl(s, SIOCGIFADDR, &ifr) < 0) { perror("addr"); return 2; }
    struct in_addr src = ((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr;

    unsigned char frame[14 + 20 + 20];
    memset(frame, 0, sizeof frame);
    memcpy(frame, gw, 6);
    memcpy(frame + 6, mac, 6);
    frame[12] = 0x08; frame[13] = 0x00;
    struct iphdr *ip = (struct iphdr *)(frame + 14);
    ip->version = 4; ip->ihl = 5; ip->tot_len = htons(40); ip->id = htons(4242);
    ip->ttl = 64; ip->protocol = IPPROTO_TCP; ip->saddr = src.s_addr; ip->daddr = dst.s_addr;
    ip->check = sum(ip, 20, 0);
    struct tcphdr *tcp = (struct tcphdr *)(frame + 34);
    unsigned short sport = (unsigned short)(40000 + getpid() % 20000);
    tcp->source = htons(sport); tcp->dest = htons(port);
    tcp->seq = htonl(0x12345678); tcp->doff = 5; tcp->syn = 1; tcp->window = htons(65535);
    struct { unsigned int s, d; unsigned char z, p; unsigned short len; } ph =
        { src.s_addr, dst.s_addr, 0, IPPROTO_TCP, htons(20) };
    unsigned int acc = 0;
    const unsigned short *w = (const unsigned short *)&ph;
    for (unsigned i = 0; i < sizeof ph / 2; i++) acc += w[i];
    tcp->check = sum(tcp, 20, acc);

    struct sockaddr_ll to;
    memset(&to, 0, sizeof to);
    to.sll_family = AF_PACKET; to.sll_ifindex = ifindex; to.sll_halen = 6;
    memcpy(to.sll_addr, gw, 6);
    if (sendto(s, frame, sizeof frame, 0, (struct sockaddr *)&to, sizeof to) < 0) { perror("sendto"); return 2; }

    struct timeval tv = {0, 200000};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    time_t end = time(NULL) + 3;
    while (time(NULL) < end) {
        unsigned char buf[2048];
        ssize_t n = recv(s, buf, sizeof buf, 0);
        if (n < 14 + 20 + 20) continue;
        struct iphdr *rip = (struct iphdr *)(buf + 14);
        if (rip->protocol != IPPROTO_TCP || rip->saddr != dst.s_addr) continue;
        struct tcphdr *rt = (struct tcphdr *)(buf + 14 + rip->ihl * 4);
        if (ntohs(rt->source) == port && ntohs(rt->dest) == sport && (rt->syn || rt->rst)) {
            printf("reached %s:%u (%s)\n", argv[2], port, rt->syn ? "syn-ack" : "rst");
            return 0;
        }
    }
    printf("blocked\n");
    return 1;
}
