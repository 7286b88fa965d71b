import Testing

@testable import MemdriftSymbolization

@Suite("Demangler")
struct DemanglerTests {
    @Test(
        "C++ Itanium names",
        arguments: [
            ("_ZN2ns5Klass6methodEi", "ns::Klass::method(int)"),
            ("_Znwm", "operator new(unsigned long)"),
            ("_Znam", "operator new[](unsigned long)"),
            (
                "_ZNSt6vectorIiSaIiEE17_M_realloc_insertIJRKiEEEvN9__gnu_cxx17__normal_iteratorIPiS1_EEDpOT_",
                "void std::vector<int, std::allocator<int> >::_M_realloc_insert<int const&>(__gnu_cxx::__normal_iterator<int*, std::vector<int, std::allocator<int> > >, int const&)"
            ),
            ("_Z5hellov.cold", "hello() [clone .cold]"),
        ])
    func cxx(mangled: String, expected: String) {
        #expect(Demangler.demangle(mangled) == expected)
    }

    @Test(
        "Swift names are simplified but keep the module",
        arguments: [
            ("$s4main5helloyyF", "main.hello()"),
            ("$s5leaky5CacheC6insertyySSF", "leaky.Cache.insert(_:)"),
            ("$s5leaky5CacheC6insert3key5valueySS_SitF", "leaky.Cache.insert(key:value:)"),
            ("$s5leaky1fSiyYaKFSbSicfU_", "closure #1 in leaky.f()"),
            ("$s5leaky3AppV4mainyyYaKFZ", "static leaky.App.main()"),
            ("$s5leaky5CacheC3mapySayxGxSSXESHRzlF", "leaky.Cache.map<A>(_:)"),
            ("$s5leaky5CacheC7storageSaySSGvg", "leaky.Cache.storage.getter"),
            ("$s5leaky5CacheC7storageSaySSGvM.resume.0", "leaky.Cache.storage.modify"),
            ("$s5leaky6Hidden33_A634D16515F60B4104C3E47483869AE3LLV4workSiyF", "leaky.Hidden.work()"),
            ("$s5leaky5CacheCACycfC", "leaky.Cache.__allocating_init()"),
            ("$ss5print_9separator10terminatoryypd_S2StFfA0_", "default argument 1 of Swift.print(_:separator:terminator:)"),
            ("$sSTsE8reversedSay7ElementQzGyFs12Zip2SequenceVySSSIySSGG_Tg5", "specialized Swift.Sequence.reversed()"),
            ("$sSS6append10contentsOfyx_tSTRzSJ7ElementRtzlF", "Swift.String.append<A>(contentsOf:)"),
            (
                "$sSw9copyBytes4fromyx_tSlRzs5UInt8V7ElementRtzlFySRyADGXEfU_TA",
                "partial apply for closure #1 in Swift.UnsafeMutableRawBufferPointer.copyBytes<A>(from:)"
            ),
            (
                "$sSOSHsSH13_rawHashValue4seedS2i_tFTW",
                "protocol witness for Swift.Hashable._rawHashValue(seed:) in conformance Swift.ObjectIdentifier"
            ),
            ("$s5leaky1fSiyYaKFTY0_", "leaky.f()"),
        ])
    func swift(mangled: String, expected: String) {
        #expect(Demangler.demangle(mangled) == expected)
    }

    @Test(
        "Rust legacy names drop the hash and decode escapes",
        arguments: [
            ("_ZN7fixture8make_map17h0123456789abcdefE", "fixture::make_map"),
            (
                "_ZN4core3ptr46drop_in_place$LT$fixture..Cache$LT$u32$GT$$GT$17h2f4c41a5d1b1f1e7E",
                "core::ptr::drop_in_place<fixture::Cache<u32>>"
            ),
            (
                "_ZN59_$LT$fixture..Cache$LT$u32$GT$$u20$as$u20$fixture..Grow$GT$4grow17h016a4bd1172c84a8E",
                "<fixture::Cache<u32> as fixture::Grow>::grow"
            ),
            ("_ZN7fixture4main28_$u7b$$u7b$closure$u7d$$u7d$17h0000000000000000E", "fixture::main::{{closure}}"),
            ("_ZN7fixture8make_map17h0123456789abcdefE.llvm.123456", "fixture::make_map"),
        ])
    func rustLegacy(mangled: String, expected: String) {
        #expect(Demangler.demangle(mangled) == expected)
    }

    @Test(
        "Rust v0 paths, impls, generics, closures and constants",
        arguments: [
            ("_RNvCsai4GBYXPky7_7fixture4main", "fixture::main"),
            ("_RNvCs1234_7mycrate4main", "mycrate::main"),
            ("_RINvCsai4GBYXPky7_7fixture7genericKj3_EB2_", "fixture::generic::<3>"),
            (
                "_RINvNtCsgEmfK2I1SDS_4core3ptr13drop_in_placeINtCsai4GBYXPky7_7fixture5CachemEEBJ_",
                "core::ptr::drop_in_place::<fixture::Cache<u32>>"
            ),
            (
                "_RINvNtCsgEmfK2I1SDS_4core3ptr13drop_in_placeINtNtCslNYArtu3iFV_5alloc5boxed3BoxDG_INtNtNtB4_3ops8function2FnTRL0_eEEp6OutputjEL_EECsai4GBYXPky7_7fixture",
                "core::ptr::drop_in_place::<alloc::boxed::Box<dyn for<'a> core::ops::function::Fn<(&'a str,), Output = usize>>>"
            ),
            (
                "_RINvMs6_NtCsgvbsrvnw3yD_9hashbrown3rawINtB6_8RawTableTmNtNtCslNYArtu3iFV_5alloc6string6StringEE14reserve_rehashNCINvNtB8_3map11make_hashermBR_NtNtNtCsjrHSEGnQ3l9_3std4hash6random11RandomStateE0ECsai4GBYXPky7_7fixture",
                "<hashbrown::raw::RawTable<(u32, alloc::string::String)>>::reserve_rehash::<hashbrown::map::make_hasher<u32, alloc::string::String, std::hash::random::RandomState>::{closure#0}>"
            ),
            (
                "_RNvXs1_NtNtCslzY3JcqbahX_14rustc_borrowck12region_infer8graphvizNtB5_14SccConstraintsNtCsRUb78suB9_14rustc_graphviz8Labeller7node_id",
                "<rustc_borrowck::region_infer::graphviz::SccConstraints as rustc_graphviz::Labeller>::node_id"
            ),
            (
                "_RINvMsi_NtCsgvbsrvnw3yD_9hashbrown3rawINtB6_12RawIterRangeTmNtNtCslNYArtu3iFV_5alloc6string6StringEE9next_implKb0_ECsai4GBYXPky7_7fixture",
                "<hashbrown::raw::RawIterRange<(u32, alloc::string::String)>>::next_impl::<false>"
            ),
            ("_RNvCs1234_7mycrate4main.llvm.42", "mycrate::main"),
            ("_RNvNtCs1234_7mycrate3foou8gdel_5qa", "mycrate::foo::gödel"),
        ])
    func rustV0(mangled: String, expected: String) {
        #expect(Demangler.demangle(mangled) == expected)
    }

    @Test(
        "undecodable input comes back unchanged",
        arguments: [
            "", "malloc", "_R", "_RNvC", "_Rgarbage", "_RB_", "_RNvCs99999999999999999999999_1a1b", "_ZN3foo3barE",
            "_ZZZ", "$s", "$sGarbage!!", "_ZN7fixture4main17hnothexnothexnotE", String(repeating: "_RI", count: 2000),
            "_ZN3foo4$XY$17h0123456789abcdefE",
        ])
    func fallback(input: String) {
        let result = Demangler.demangle(input)
        #expect(!result.isEmpty || input.isEmpty)
        if input.hasPrefix("_R") || input == "malloc" {
            #expect(result == input)
        }
    }

    @Test("the Swift simplifier survives unbalanced and truncated runtime output")
    func simplifierFuzz() {
        var generator = SystemRandomNumberGenerator()
        let pieces = [
            "(", ")", "<", ">", "[", "]", " : ", " -> ", " in ", " of ", " to ", "from ", ", ", "a", "B.c",
            "closure #1 ", "generic specialization ", "reabstraction thunk helper ", "in conformance ",
            " throws", " async", "(extension in M):", "(X in _ABC123)", "(1) await resume partial function for ",
        ]
        for _ in 0..<5000 {
            let count = Int.random(in: 0..<16, using: &generator)
            let text = (0..<count).map { _ in pieces.randomElement(using: &generator) ?? "" }.joined()
            let result = SwiftNameSimplifier(text).simplified()
            #expect(!result.isEmpty || text.allSatisfy { $0 == " " })
        }
    }

    @Test("random bytes never crash the Rust and Swift paths")
    func fuzz() {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ$.")
        for prefix in ["_R", "_RIN", "_ZN", "$s", "_Z"] {
            for _ in 0..<2000 {
                let length = Int.random(in: 0..<40, using: &generator)
                let body = String((0..<length).map { _ in alphabet.randomElement(using: &generator) ?? "_" })
                _ = Demangler.demangle(prefix + body)
            }
        }
    }
}
