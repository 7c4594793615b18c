# A Perl script making a page RWX through syscall(): `perl` from its stack.
use strict;
use warnings;
my $addr = syscall(9, 0, 4096, 3, 0x22, -1, 0);    # mmap RW, private anonymous
die "mmap: $!" if $addr == -1;
syscall(10, $addr, 4096, 7) == 0 or die "mprotect: $!";
select(undef, undef, undef, 0.2);
