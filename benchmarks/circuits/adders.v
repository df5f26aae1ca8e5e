// Benchmark circuits for benchmarks/aqfp.py (combinational, one module each).
module add4(input [3:0] a, input [3:0] b, input cin, output [3:0] s, output cout);
  assign {cout, s} = a + b + cin;
endmodule

module add8(input [7:0] a, input [7:0] b, output [8:0] s);
  assign s = a + b;
endmodule

module mul4(input [3:0] a, input [3:0] b, output [7:0] p);
  assign p = a * b;
endmodule

module vote5(input [4:0] v, output y);
  assign y = (v[0] + v[1] + v[2] + v[3] + v[4]) >= 3;
endmodule

module cmp8(input [7:0] a, input [7:0] b, output gt);
  assign gt = a > b;
endmodule
