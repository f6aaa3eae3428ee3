//! The demo catalogue for `yibao up --demo`: a small provincial catalogue of Anhui (340000,
//! which the demo county 341522 lies in) with the codes the README tours and `docs/api.md` use,
//! one entry of each kind and class, a negotiated drug with its payment standard and each kind
//! of payment restriction. `yibao up --demo` imports it with [`import_request`] through
//! `ImportCatalogue` (as a provincial operator or an admin); importing it again changes nothing.

use yibao_proto::procurement::v1 as pb;

/// Region of the demo catalogue: the province of the demo county.
pub const REGION: &str = "340000";

/// The demo catalogue file (`docs/catalogue-format.md`).
pub const CATALOGUE_CSV: &str = "\
code,kind,generic_name,dosage_form,specification,manufacturer,class,negotiated,valid_from,valid_to,region_code,preselfpay_share_bp,payment_standard_fen,sex,min_age,max_age,min_institution_grade,indication,indication_diagnoses,max_days_supply
001109000010300,service_item,普通病房床位费(三人间),,日,,甲,false,2020-01-01,,,,,,,,,,,
001102000050000,service_item,住院诊查费,,日,,甲,false,2020-01-01,,,,,,,,,,,
003110000110001,service_item,连续性血液净化(机器法加收),,小时,,乙,false,2020-01-01,,,1000,,,,,2,,,
XC10AAA123A000000000001,drug,阿托伐他汀钙片,片剂,20mg,药企1,乙,false,2020-01-01,,,,,,,,,,,90
XC10AAA123A000000000002,drug,阿托伐他汀钙片,片剂,20mg,药企2,乙,false,2020-01-01,,,,,,,,,,,90
XC08CAA011A001010100001,drug,氨氯地平片,片剂,5mg,药企3,甲,false,2020-01-01,,,,,,,,,,,90
XA01ABD075A002010100483,drug,地喹氯铵含片,含片,\"0.25mg, 24片/盒\",药企4,甲,false,2020-01-01,,,,,,,,,,,
XL02BBA326A001010102180,drug,阿帕他胺片,片剂,60mg,药企5,乙,true,2020-01-01,,,1000,19800,男,,,2,限前列腺癌,C61,30
ZA04CAE0023010100166,中成药,儿童清肺口服液,口服液,10ml,药企6,乙,false,2020-01-01,,,,,,,17,,,,
ZA12AAS0001010100001,中成药,参麦注射液,注射液,10ml,药企7,乙,false,2020-01-01,,,,,,,,2,限二级及以上医疗机构,,
XN07XXD001A001010100001,drug,丁苯酞软胶囊,软胶囊,0.1g,药企8,乙,true,2020-01-01,,,1500,1800,,,,,限急性缺血性脑卒中,I63,20
C0101010010000000001,consumable,人工髋关节,,1套,器械一,乙,false,2020-01-01,,,2000,,,,,,,,
C0201010010000000001,consumable,一次性输液器,,1套,器械二,甲,false,2020-01-01,,,,,,,,,,,
C0301010010000000001,consumable,美容填充材料,,1支,器械三,丙,false,2020-01-01,,,,,,,,,,,
";

/// The `ImportCatalogue` request of the demo catalogue.
pub fn import_request() -> pb::ImportCatalogueRequest {
    pb::ImportCatalogueRequest {
        region_code: REGION.into(),
        csv_text: CATALOGUE_CSV.into(),
        dry_run: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{InsuranceClass, parse_catalogue_csv};

    #[test]
    fn the_demo_catalogue_parses_whole_with_each_class_and_a_negotiated_restricted_drug() {
        let import = parse_catalogue_csv(CATALOGUE_CSV);
        assert!(import.errors.is_empty(), "{:#?}", import.errors);
        assert_eq!(import.entries.len(), 14);
        for class in [InsuranceClass::A, InsuranceClass::B, InsuranceClass::C] {
            assert!(import.entries.iter().any(|e| e.class == class));
        }
        assert!(
            import.entries.iter().any(|e| e.negotiated
                && e.payment_standard.is_some()
                && e.restrictions.sex.is_some())
        );
    }
}
