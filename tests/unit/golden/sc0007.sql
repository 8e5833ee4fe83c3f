-- upgrade sc0006:sc0007
BEGIN;

-- Running upgrade sc0006 -> sc0007

CREATE TABLE IF NOT EXISTS semantik_chunks_partition_keys (
    position integer PRIMARY KEY,
    suffix text NOT NULL UNIQUE,
    kind "char" NOT NULL,
    definition text NOT NULL
);

INSERT INTO semantik_chunks_partition_keys (position, suffix, kind, definition) VALUES (0, 'pkey', 'p', 'PRIMARY KEY (id, collection_id, partition_key)');

INSERT INTO semantik_chunks_partition_keys (position, suffix, kind, definition) VALUES (1, 'collection_id_fkey', 'f', 'FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE');

ALTER TABLE chunks DROP CONSTRAINT "chunks_collection_id_fkey";

ALTER TABLE chunks DROP CONSTRAINT "chunks_pkey";

ALTER TABLE "chunks_part_00" ADD CONSTRAINT "chunks_part_00_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_00" ADD CONSTRAINT "chunks_part_00_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_01" ADD CONSTRAINT "chunks_part_01_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_01" ADD CONSTRAINT "chunks_part_01_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_02" ADD CONSTRAINT "chunks_part_02_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_02" ADD CONSTRAINT "chunks_part_02_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_03" ADD CONSTRAINT "chunks_part_03_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_03" ADD CONSTRAINT "chunks_part_03_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_04" ADD CONSTRAINT "chunks_part_04_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_04" ADD CONSTRAINT "chunks_part_04_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_05" ADD CONSTRAINT "chunks_part_05_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_05" ADD CONSTRAINT "chunks_part_05_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_06" ADD CONSTRAINT "chunks_part_06_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_06" ADD CONSTRAINT "chunks_part_06_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_07" ADD CONSTRAINT "chunks_part_07_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_07" ADD CONSTRAINT "chunks_part_07_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_08" ADD CONSTRAINT "chunks_part_08_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_08" ADD CONSTRAINT "chunks_part_08_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_09" ADD CONSTRAINT "chunks_part_09_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_09" ADD CONSTRAINT "chunks_part_09_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_10" ADD CONSTRAINT "chunks_part_10_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_10" ADD CONSTRAINT "chunks_part_10_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_11" ADD CONSTRAINT "chunks_part_11_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_11" ADD CONSTRAINT "chunks_part_11_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_12" ADD CONSTRAINT "chunks_part_12_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_12" ADD CONSTRAINT "chunks_part_12_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_13" ADD CONSTRAINT "chunks_part_13_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_13" ADD CONSTRAINT "chunks_part_13_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_14" ADD CONSTRAINT "chunks_part_14_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_14" ADD CONSTRAINT "chunks_part_14_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_15" ADD CONSTRAINT "chunks_part_15_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_15" ADD CONSTRAINT "chunks_part_15_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_16" ADD CONSTRAINT "chunks_part_16_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_16" ADD CONSTRAINT "chunks_part_16_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_17" ADD CONSTRAINT "chunks_part_17_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_17" ADD CONSTRAINT "chunks_part_17_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_18" ADD CONSTRAINT "chunks_part_18_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_18" ADD CONSTRAINT "chunks_part_18_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_19" ADD CONSTRAINT "chunks_part_19_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_19" ADD CONSTRAINT "chunks_part_19_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_20" ADD CONSTRAINT "chunks_part_20_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_20" ADD CONSTRAINT "chunks_part_20_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_21" ADD CONSTRAINT "chunks_part_21_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_21" ADD CONSTRAINT "chunks_part_21_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_22" ADD CONSTRAINT "chunks_part_22_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_22" ADD CONSTRAINT "chunks_part_22_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_23" ADD CONSTRAINT "chunks_part_23_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_23" ADD CONSTRAINT "chunks_part_23_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_24" ADD CONSTRAINT "chunks_part_24_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_24" ADD CONSTRAINT "chunks_part_24_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_25" ADD CONSTRAINT "chunks_part_25_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_25" ADD CONSTRAINT "chunks_part_25_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_26" ADD CONSTRAINT "chunks_part_26_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_26" ADD CONSTRAINT "chunks_part_26_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_27" ADD CONSTRAINT "chunks_part_27_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_27" ADD CONSTRAINT "chunks_part_27_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_28" ADD CONSTRAINT "chunks_part_28_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_28" ADD CONSTRAINT "chunks_part_28_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_29" ADD CONSTRAINT "chunks_part_29_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_29" ADD CONSTRAINT "chunks_part_29_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_30" ADD CONSTRAINT "chunks_part_30_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_30" ADD CONSTRAINT "chunks_part_30_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_31" ADD CONSTRAINT "chunks_part_31_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_31" ADD CONSTRAINT "chunks_part_31_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_32" ADD CONSTRAINT "chunks_part_32_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_32" ADD CONSTRAINT "chunks_part_32_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_33" ADD CONSTRAINT "chunks_part_33_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_33" ADD CONSTRAINT "chunks_part_33_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_34" ADD CONSTRAINT "chunks_part_34_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_34" ADD CONSTRAINT "chunks_part_34_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_35" ADD CONSTRAINT "chunks_part_35_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_35" ADD CONSTRAINT "chunks_part_35_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_36" ADD CONSTRAINT "chunks_part_36_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_36" ADD CONSTRAINT "chunks_part_36_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_37" ADD CONSTRAINT "chunks_part_37_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_37" ADD CONSTRAINT "chunks_part_37_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_38" ADD CONSTRAINT "chunks_part_38_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_38" ADD CONSTRAINT "chunks_part_38_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_39" ADD CONSTRAINT "chunks_part_39_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_39" ADD CONSTRAINT "chunks_part_39_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_40" ADD CONSTRAINT "chunks_part_40_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_40" ADD CONSTRAINT "chunks_part_40_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_41" ADD CONSTRAINT "chunks_part_41_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_41" ADD CONSTRAINT "chunks_part_41_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_42" ADD CONSTRAINT "chunks_part_42_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_42" ADD CONSTRAINT "chunks_part_42_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_43" ADD CONSTRAINT "chunks_part_43_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_43" ADD CONSTRAINT "chunks_part_43_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_44" ADD CONSTRAINT "chunks_part_44_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_44" ADD CONSTRAINT "chunks_part_44_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_45" ADD CONSTRAINT "chunks_part_45_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_45" ADD CONSTRAINT "chunks_part_45_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_46" ADD CONSTRAINT "chunks_part_46_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_46" ADD CONSTRAINT "chunks_part_46_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_47" ADD CONSTRAINT "chunks_part_47_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_47" ADD CONSTRAINT "chunks_part_47_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_48" ADD CONSTRAINT "chunks_part_48_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_48" ADD CONSTRAINT "chunks_part_48_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_49" ADD CONSTRAINT "chunks_part_49_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_49" ADD CONSTRAINT "chunks_part_49_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_50" ADD CONSTRAINT "chunks_part_50_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_50" ADD CONSTRAINT "chunks_part_50_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_51" ADD CONSTRAINT "chunks_part_51_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_51" ADD CONSTRAINT "chunks_part_51_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_52" ADD CONSTRAINT "chunks_part_52_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_52" ADD CONSTRAINT "chunks_part_52_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_53" ADD CONSTRAINT "chunks_part_53_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_53" ADD CONSTRAINT "chunks_part_53_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_54" ADD CONSTRAINT "chunks_part_54_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_54" ADD CONSTRAINT "chunks_part_54_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_55" ADD CONSTRAINT "chunks_part_55_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_55" ADD CONSTRAINT "chunks_part_55_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_56" ADD CONSTRAINT "chunks_part_56_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_56" ADD CONSTRAINT "chunks_part_56_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_57" ADD CONSTRAINT "chunks_part_57_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_57" ADD CONSTRAINT "chunks_part_57_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_58" ADD CONSTRAINT "chunks_part_58_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_58" ADD CONSTRAINT "chunks_part_58_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_59" ADD CONSTRAINT "chunks_part_59_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_59" ADD CONSTRAINT "chunks_part_59_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_60" ADD CONSTRAINT "chunks_part_60_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_60" ADD CONSTRAINT "chunks_part_60_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_61" ADD CONSTRAINT "chunks_part_61_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_61" ADD CONSTRAINT "chunks_part_61_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_62" ADD CONSTRAINT "chunks_part_62_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_62" ADD CONSTRAINT "chunks_part_62_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_63" ADD CONSTRAINT "chunks_part_63_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_63" ADD CONSTRAINT "chunks_part_63_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_64" ADD CONSTRAINT "chunks_part_64_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_64" ADD CONSTRAINT "chunks_part_64_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_65" ADD CONSTRAINT "chunks_part_65_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_65" ADD CONSTRAINT "chunks_part_65_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_66" ADD CONSTRAINT "chunks_part_66_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_66" ADD CONSTRAINT "chunks_part_66_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_67" ADD CONSTRAINT "chunks_part_67_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_67" ADD CONSTRAINT "chunks_part_67_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_68" ADD CONSTRAINT "chunks_part_68_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_68" ADD CONSTRAINT "chunks_part_68_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_69" ADD CONSTRAINT "chunks_part_69_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_69" ADD CONSTRAINT "chunks_part_69_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_70" ADD CONSTRAINT "chunks_part_70_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_70" ADD CONSTRAINT "chunks_part_70_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_71" ADD CONSTRAINT "chunks_part_71_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_71" ADD CONSTRAINT "chunks_part_71_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_72" ADD CONSTRAINT "chunks_part_72_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_72" ADD CONSTRAINT "chunks_part_72_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_73" ADD CONSTRAINT "chunks_part_73_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_73" ADD CONSTRAINT "chunks_part_73_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_74" ADD CONSTRAINT "chunks_part_74_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_74" ADD CONSTRAINT "chunks_part_74_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_75" ADD CONSTRAINT "chunks_part_75_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_75" ADD CONSTRAINT "chunks_part_75_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_76" ADD CONSTRAINT "chunks_part_76_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_76" ADD CONSTRAINT "chunks_part_76_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_77" ADD CONSTRAINT "chunks_part_77_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_77" ADD CONSTRAINT "chunks_part_77_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_78" ADD CONSTRAINT "chunks_part_78_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_78" ADD CONSTRAINT "chunks_part_78_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_79" ADD CONSTRAINT "chunks_part_79_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_79" ADD CONSTRAINT "chunks_part_79_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_80" ADD CONSTRAINT "chunks_part_80_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_80" ADD CONSTRAINT "chunks_part_80_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_81" ADD CONSTRAINT "chunks_part_81_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_81" ADD CONSTRAINT "chunks_part_81_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_82" ADD CONSTRAINT "chunks_part_82_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_82" ADD CONSTRAINT "chunks_part_82_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_83" ADD CONSTRAINT "chunks_part_83_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_83" ADD CONSTRAINT "chunks_part_83_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_84" ADD CONSTRAINT "chunks_part_84_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_84" ADD CONSTRAINT "chunks_part_84_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_85" ADD CONSTRAINT "chunks_part_85_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_85" ADD CONSTRAINT "chunks_part_85_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_86" ADD CONSTRAINT "chunks_part_86_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_86" ADD CONSTRAINT "chunks_part_86_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_87" ADD CONSTRAINT "chunks_part_87_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_87" ADD CONSTRAINT "chunks_part_87_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_88" ADD CONSTRAINT "chunks_part_88_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_88" ADD CONSTRAINT "chunks_part_88_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_89" ADD CONSTRAINT "chunks_part_89_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_89" ADD CONSTRAINT "chunks_part_89_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_90" ADD CONSTRAINT "chunks_part_90_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_90" ADD CONSTRAINT "chunks_part_90_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_91" ADD CONSTRAINT "chunks_part_91_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_91" ADD CONSTRAINT "chunks_part_91_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_92" ADD CONSTRAINT "chunks_part_92_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_92" ADD CONSTRAINT "chunks_part_92_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_93" ADD CONSTRAINT "chunks_part_93_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_93" ADD CONSTRAINT "chunks_part_93_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_94" ADD CONSTRAINT "chunks_part_94_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_94" ADD CONSTRAINT "chunks_part_94_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_95" ADD CONSTRAINT "chunks_part_95_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_95" ADD CONSTRAINT "chunks_part_95_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_96" ADD CONSTRAINT "chunks_part_96_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_96" ADD CONSTRAINT "chunks_part_96_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_97" ADD CONSTRAINT "chunks_part_97_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_97" ADD CONSTRAINT "chunks_part_97_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_98" ADD CONSTRAINT "chunks_part_98_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_98" ADD CONSTRAINT "chunks_part_98_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

ALTER TABLE "chunks_part_99" ADD CONSTRAINT "chunks_part_99_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE "chunks_part_99" ADD CONSTRAINT "chunks_part_99_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

CREATE TABLE IF NOT EXISTS semantik_chunks_moves (
        partition_num integer PRIMARY KEY,
        source text NOT NULL,
        target text NOT NULL,
        phase text NOT NULL CHECK (phase IN ('copy', 'swapped')),
        started_at timestamptz NOT NULL DEFAULT now()
    );

CREATE TABLE IF NOT EXISTS semantik_chunks_move_log (
        seq bigserial PRIMARY KEY,
        partition_num integer NOT NULL,
        id bigint NOT NULL,
        collection_id text NOT NULL
    );

CREATE OR REPLACE FUNCTION semantik_chunks_capture() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
            INSERT INTO semantik_chunks_move_log (partition_num, id, collection_id)
            VALUES (TG_ARGV[0]::integer, OLD.id, OLD.collection_id);
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
            INSERT INTO semantik_chunks_move_log (partition_num, id, collection_id)
            VALUES (TG_ARGV[0]::integer, NEW.id, NEW.collection_id);
        END IF;
        RETURN NULL;
    END $$;

CREATE OR REPLACE FUNCTION semantik_chunks_check_collection() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM 1 FROM collections WHERE id = NEW.collection_id FOR KEY SHARE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'insert or update on table "%" violates foreign key constraint "%_collection_id_fkey"',
                TG_TABLE_NAME, TG_TABLE_NAME
                USING ERRCODE = 'foreign_key_violation',
                      DETAIL = format('Key (collection_id)=(%s) is not present in table "collections".',
                                      NEW.collection_id);
        END IF;
        RETURN NEW;
    END $$;

CREATE OR REPLACE FUNCTION semantik_chunks_cascade_remote_chunks() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM chunks WHERE partition_key = get_partition_key(OLD.id::text) AND collection_id = OLD.id;
        RETURN NULL;
    END $$;

DROP FUNCTION IF EXISTS analyze_partition_skew() CASCADE;

DROP FUNCTION IF EXISTS refresh_collection_chunking_stats() CASCADE;

DROP FUNCTION IF EXISTS chunks_written_since(interval) CASCADE;

DROP FUNCTION IF EXISTS chunk_remote_partition_stats() CASCADE;

DROP FUNCTION IF EXISTS chunk_remote_partition_activity() CASCADE;

DROP FUNCTION IF EXISTS chunk_local_partition_newest() CASCADE;

DROP FUNCTION IF EXISTS chunk_local_partition_activity() CASCADE;

DO $$
DECLARE
    found record;
BEGIN
    FOR found IN
        SELECT c.relname, c.relkind
        FROM unnest(ARRAY['chunk_partition_catalog', 'partition_stats', 'partition_health_summary', 'partition_health', 'partition_distribution', 'partition_size_distribution', 'partition_chunk_distribution', 'partition_hot_spots', 'partition_isolated_collections', 'collection_chunking_stats']) AS wanted(name)
        JOIN pg_class AS c ON c.oid = to_regclass(wanted.name)
    LOOP
        IF found.relkind = 'v' THEN
            EXECUTE format('DROP VIEW IF EXISTS %I CASCADE', found.relname);
        ELSIF found.relkind = 'm' THEN
            EXECUTE format('DROP MATERIALIZED VIEW IF EXISTS %I CASCADE', found.relname);
        END IF;
    END LOOP;
END
$$;

CREATE FUNCTION chunk_remote_partition_stats()
RETURNS TABLE(partition_name text, server text, reachable boolean, row_count bigint, dead_rows bigint, size_bytes bigint, writes bigint, newest_chunk_at timestamptz, last_vacuum timestamptz, last_autovacuum timestamptz, error text)
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    s record;
    got jsonb;
    failure text;
BEGIN
    FOR s IN
        SELECT fs.srvname::text AS name, array_agg(c.relname::text ORDER BY c.relname) AS parts
        FROM pg_inherits AS i
        JOIN pg_class AS c ON c.oid = i.inhrelid
        JOIN pg_foreign_table AS ft ON ft.ftrelid = c.oid
        JOIN pg_foreign_server AS fs ON fs.oid = ft.ftserver
        WHERE i.inhparent = 'chunks'::regclass
        GROUP BY fs.srvname
        ORDER BY fs.srvname
    LOOP
        got := NULL;
        failure := NULL;
        BEGIN
            EXECUTE format('SELECT coalesce(jsonb_agg(t), ''[]'') FROM %I AS t WHERE t.partition_name = ANY($1)',
                           'semantik_chunks_stats__' || s.name)
                INTO got USING s.parts;
        EXCEPTION WHEN OTHERS THEN
            failure := SQLERRM;
        END;
        RETURN QUERY
            SELECT p.name, s.name, x.partition_name IS NOT NULL, coalesce(x.row_count, 0), coalesce(x.dead_rows, 0), coalesce(x.size_bytes, 0), coalesce(x.writes, 0), x.newest_chunk_at, x.last_vacuum, x.last_autovacuum,
                   CASE WHEN x.partition_name IS NOT NULL THEN NULL
                        ELSE coalesce(failure, 'the server has no table ' || p.name) END
            FROM unnest(s.parts) AS p(name)
            LEFT JOIN jsonb_to_recordset(coalesce(got, '[]')) AS x(partition_name text, row_count bigint, dead_rows bigint, size_bytes bigint, writes bigint, newest_chunk_at timestamptz, last_vacuum timestamptz, last_autovacuum timestamptz)
                   ON x.partition_name = p.name;
    END LOOP;
END
$fn$;

CREATE FUNCTION chunk_remote_partition_activity()
RETURNS TABLE(partition_name text, server text, reachable boolean, last_hour bigint, last_day bigint, last_week bigint, error text)
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    s record;
    got jsonb;
    failure text;
BEGIN
    FOR s IN
        SELECT fs.srvname::text AS name, array_agg(c.relname::text ORDER BY c.relname) AS parts
        FROM pg_inherits AS i
        JOIN pg_class AS c ON c.oid = i.inhrelid
        JOIN pg_foreign_table AS ft ON ft.ftrelid = c.oid
        JOIN pg_foreign_server AS fs ON fs.oid = ft.ftserver
        WHERE i.inhparent = 'chunks'::regclass
        GROUP BY fs.srvname
        ORDER BY fs.srvname
    LOOP
        got := NULL;
        failure := NULL;
        BEGIN
            EXECUTE format('SELECT coalesce(jsonb_agg(t), ''[]'') FROM %I AS t WHERE t.partition_name = ANY($1)',
                           'semantik_chunks_activity__' || s.name)
                INTO got USING s.parts;
        EXCEPTION WHEN OTHERS THEN
            failure := SQLERRM;
        END;
        RETURN QUERY
            SELECT p.name, s.name, x.partition_name IS NOT NULL, coalesce(x.last_hour, 0), coalesce(x.last_day, 0), coalesce(x.last_week, 0),
                   CASE WHEN x.partition_name IS NOT NULL THEN NULL
                        ELSE coalesce(failure, 'the server has no table ' || p.name) END
            FROM unnest(s.parts) AS p(name)
            LEFT JOIN jsonb_to_recordset(coalesce(got, '[]')) AS x(partition_name text, last_hour bigint, last_day bigint, last_week bigint)
                   ON x.partition_name = p.name;
    END LOOP;
END
$fn$;

CREATE FUNCTION chunks_written_since(span interval) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL UNSAFE AS 'SELECT now() - span';

CREATE FUNCTION chunk_local_partition_newest()
RETURNS TABLE(partition_name text, newest_chunk_at timestamptz)
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    query text;
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'chunks'::regclass AND c.relkind = 'f'
    ) THEN
        RETURN QUERY SELECT n.partition_name, (SELECT max(k.created_at) FROM chunks AS k WHERE k.partition_key = n.partition_num) FROM (
    SELECT n AS partition_num,
           'chunks_part_' || lpad(n::text, greatest(2, length((chunk_partition_count() - 1)::text)), '0') AS partition_name
    FROM generate_series(0, chunk_partition_count() - 1) AS n
) AS n;
        RETURN;
    END IF;
    SELECT string_agg(format('SELECT %L::text, (SELECT max(created_at) FROM %s)',
                             c.relname, c.oid::regclass), ' UNION ALL ')
        INTO query
    FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'chunks'::regclass AND c.relkind IN ('r', 'p');
    IF query IS NOT NULL THEN
        RETURN QUERY EXECUTE query;
    END IF;
END
$fn$;

CREATE FUNCTION chunk_local_partition_activity()
RETURNS TABLE(partition_name text, last_hour bigint, last_day bigint, last_week bigint)
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
    query text;
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'chunks'::regclass AND c.relkind = 'f'
    ) THEN
        RETURN QUERY SELECT n.partition_name, a.h, a.d, a.w FROM (SELECT partition_key, count(*) FILTER (WHERE created_at > chunks_written_since('1 hour')), count(*) FILTER (WHERE created_at > chunks_written_since('24 hours')), count(*) FILTER (WHERE created_at > chunks_written_since('168 hours')) FROM chunks WHERE created_at > chunks_written_since('168 hours') GROUP BY partition_key) AS a(partition_key, h, d, w) JOIN (
    SELECT n AS partition_num,
           'chunks_part_' || lpad(n::text, greatest(2, length((chunk_partition_count() - 1)::text)), '0') AS partition_name
    FROM generate_series(0, chunk_partition_count() - 1) AS n
) AS n ON n.partition_num = a.partition_key;
        RETURN;
    END IF;
    SELECT string_agg(format('SELECT %L::text, count(*) FILTER (WHERE t.created_at > now() - interval ''1 hour''), count(*) FILTER (WHERE t.created_at > now() - interval ''24 hours''), count(*) FROM %s AS t WHERE t.created_at > now() - interval ''168 hours''',
                             c.relname, c.oid::regclass), ' UNION ALL ')
        INTO query
    FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'chunks'::regclass AND c.relkind IN ('r', 'p');
    IF query IS NOT NULL THEN
        RETURN QUERY EXECUTE query;
    END IF;
END
$fn$;

CREATE VIEW chunk_partition_catalog AS
WITH remote AS (
    SELECT * FROM chunk_remote_partition_stats()
)
SELECT p.partition_num,
       p.partition_name,
       CASE WHEN r.partition_name IS NOT NULL THEN r.row_count ELSE coalesce(leaves.row_count, 0)::bigint END
           AS row_count,
       CASE WHEN r.partition_name IS NOT NULL THEN r.dead_rows ELSE coalesce(leaves.dead_rows, 0)::bigint END
           AS dead_rows,
       CASE WHEN r.partition_name IS NOT NULL THEN r.size_bytes ELSE coalesce(leaves.size_bytes, 0)::bigint END
           AS size_bytes,
       coalesce(r.server, 'coordinator') AS server,
       coalesce(r.reachable, true) AS reachable,
       r.error AS unreachable_reason,
       CASE WHEN r.partition_name IS NOT NULL THEN r.writes ELSE coalesce(leaves.writes, 0)::bigint END AS writes,
       CASE WHEN r.partition_name IS NOT NULL THEN r.last_vacuum ELSE leaves.last_vacuum END AS last_vacuum,
       CASE WHEN r.partition_name IS NOT NULL THEN r.last_autovacuum ELSE leaves.last_autovacuum END
           AS last_autovacuum,
       r.newest_chunk_at AS remote_newest_chunk_at
FROM (
    SELECT n AS partition_num,
           'chunks_part_' || lpad(n::text, greatest(2, length((chunk_partition_count() - 1)::text)), '0') AS partition_name
    FROM generate_series(0, chunk_partition_count() - 1) AS n
) AS p
LEFT JOIN (pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid)
       ON i.inhparent = 'chunks'::regclass AND c.relname = p.partition_name
LEFT JOIN LATERAL (
    SELECT sum(CASE
                   WHEN pg_stat_get_live_tuples(l.oid) = 0 AND pg_stat_get_tuples_inserted(l.oid) = 0
                        AND pg_stat_get_dead_tuples(l.oid) = 0 THEN greatest(l.reltuples, 0)::bigint
                   ELSE pg_stat_get_live_tuples(l.oid)
               END) AS row_count,
           sum(pg_stat_get_dead_tuples(l.oid)) AS dead_rows,
           sum(pg_total_relation_size(l.oid)) AS size_bytes,
           sum(pg_stat_get_tuples_inserted(l.oid) + pg_stat_get_tuples_updated(l.oid)
               + pg_stat_get_tuples_deleted(l.oid)) AS writes,
           max(pg_stat_get_last_vacuum_time(l.oid)) AS last_vacuum,
           max(pg_stat_get_last_autovacuum_time(l.oid)) AS last_autovacuum
    FROM pg_partition_tree(c.oid) AS tree JOIN pg_class AS l ON l.oid = tree.relid
    WHERE tree.isleaf AND l.relkind <> 'f'
) AS leaves ON c.oid IS NOT NULL
LEFT JOIN remote AS r ON r.partition_name = p.partition_name;

CREATE VIEW partition_stats AS
SELECT c.partition_num,
       c.partition_name,
       c.row_count AS chunk_count,
       round(c.size_bytes / 1048576.0, 3) AS total_size_mb,
       CASE WHEN c.row_count > 0 THEN round(c.size_bytes / 1024.0 / c.row_count, 3) ELSE 0 END AS avg_chunk_size_kb,
       coalesce(local.newest_chunk_at, c.remote_newest_chunk_at) AS created_at,
       c.size_bytes,
       c.dead_rows,
       c.writes,
       c.server,
       c.reachable,
       c.unreachable_reason
FROM chunk_partition_catalog AS c
LEFT JOIN chunk_local_partition_newest() AS local ON local.partition_name = c.partition_name
ORDER BY c.partition_num;

CREATE VIEW partition_health_summary AS
WITH cat AS (
    SELECT partition_num, row_count, size_bytes FROM chunk_partition_catalog
), totals AS (
    SELECT sum(row_count)::bigint AS total_rows, sum(size_bytes)::bigint AS total_bytes FROM cat
), skews AS (
    SELECT cat.partition_num, cat.row_count, cat.size_bytes, totals.total_rows, totals.total_bytes,
           CASE WHEN totals.total_rows > 0 THEN abs(cat.row_count::bigint * chunk_partition_count() - totals.total_rows::bigint)::float8 / totals.total_rows::float8 ELSE 0::float8 END AS chunk_skew,
           CASE WHEN totals.total_bytes > 0 THEN abs(cat.size_bytes::bigint * chunk_partition_count() - totals.total_bytes::bigint)::float8 / totals.total_bytes::float8 ELSE 0::float8 END AS size_skew
    FROM cat CROSS JOIN totals
), statuses AS (
    SELECT skews.*, CASE WHEN chunk_skew >= 0.5::float8 THEN 'UNBALANCED' WHEN chunk_skew >= 0.3::float8 THEN 'WARNING' ELSE 'HEALTHY' END AS health_status FROM skews
)
SELECT partition_num,
       row_count AS chunk_count,
       total_rows AS total_chunks,
       (CASE WHEN total_rows > 0 THEN 100.0::float8 * row_count / total_rows ELSE 0::float8 END)::numeric AS chunk_percentage,
       (CASE WHEN total_bytes > 0 THEN 100.0::float8 * size_bytes / total_bytes ELSE 0::float8 END)::numeric AS size_percentage,
       health_status,
       chunk_skew::numeric AS chunk_skew,
       size_skew::numeric AS size_skew,
       CASE health_status
           WHEN 'UNBALANCED' THEN 'Unbalanced: see the rebalancing recommendations for the collections behind it'
           WHEN 'WARNING' THEN 'Monitor partition growth'
       END AS recommendation,
       pg_size_pretty(size_bytes) AS partition_size,
       size_bytes
FROM statuses
ORDER BY partition_num;

CREATE VIEW partition_health AS
WITH cat AS (
    SELECT * FROM chunk_partition_catalog
), totals AS (
    SELECT sum(row_count)::bigint AS total_rows FROM cat
), deviations AS (
    SELECT cat.*, totals.total_rows,
           CASE WHEN totals.total_rows > 0
                THEN (cat.row_count * chunk_partition_count() - totals.total_rows)::float8 / totals.total_rows::float8
                ELSE 0::float8 END AS deviation
    FROM cat CROSS JOIN totals
)
SELECT partition_name,
       partition_num AS partition_id,
       partition_num,
       size_bytes,
       row_count,
       dead_rows,
       last_vacuum,
       last_autovacuum,
       pg_size_pretty(size_bytes) AS size_pretty,
       (100.0::float8 * deviation)::numeric AS pct_deviation_from_avg,
       CASE
           WHEN total_rows > 0 AND deviation >= 0.3::float8 THEN 'HOT'
           WHEN total_rows > 0 AND -deviation >= 0.3::float8 THEN 'COLD'
           ELSE 'NORMAL'
       END AS partition_status,
       dead_rows > row_count * 0.1 AS needs_vacuum
FROM deviations
ORDER BY partition_num;

CREATE VIEW partition_distribution AS
WITH cat AS (
    SELECT row_count, size_bytes FROM chunk_partition_catalog
), agg AS (
    SELECT count(*) FILTER (WHERE row_count > 0) AS partitions_used,
           count(*) FILTER (WHERE row_count = 0) AS empty_partitions,
           coalesce(sum(row_count), 0)::bigint AS total_chunks,
           coalesce(sum(size_bytes), 0)::bigint AS total_size_bytes,
           coalesce(max(row_count), 0) AS max_chunks,
           coalesce(min(row_count), 0) AS min_chunks,
           coalesce(stddev_samp(row_count), 0) AS stddev_chunks
    FROM cat
)
SELECT chunk_partition_count() AS partition_count,
       partitions_used,
       total_chunks,
       total_size_bytes,
       (total_chunks::float8 / chunk_partition_count())::numeric AS avg_chunks_per_partition,
       stddev_chunks,
       max_chunks,
       min_chunks,
       (CASE WHEN total_chunks > 0 THEN max_chunks / (total_chunks::float8 / chunk_partition_count()) ELSE 0::float8 END)::numeric
           AS max_skew_ratio,
       CASE WHEN CASE WHEN total_chunks > 0 THEN abs(max_chunks::bigint * chunk_partition_count() - total_chunks::bigint)::float8 / total_chunks::float8 ELSE 0::float8 END >= 0.5::float8 THEN 'UNBALANCED' WHEN CASE WHEN total_chunks > 0 THEN abs(max_chunks::bigint * chunk_partition_count() - total_chunks::bigint)::float8 / total_chunks::float8 ELSE 0::float8 END >= 0.3::float8 THEN 'WARNING' ELSE 'HEALTHY' END AS distribution_status,
       empty_partitions
FROM agg;

CREATE VIEW partition_size_distribution AS
WITH cat AS (
    SELECT * FROM chunk_partition_catalog
), totals AS (
    SELECT sum(size_bytes) AS total_bytes FROM cat
)
SELECT cat.partition_num,
       cat.partition_name,
       cat.size_bytes,
       pg_size_pretty(cat.size_bytes) AS size_pretty,
       CASE WHEN totals.total_bytes > 0 THEN round(100.0 * cat.size_bytes / totals.total_bytes, 2) ELSE 0 END
           AS size_percentage,
       cat.row_count AS row_estimate
FROM cat CROSS JOIN totals
ORDER BY cat.partition_num;

CREATE VIEW partition_chunk_distribution AS
WITH counts AS (
    SELECT partition_key,
           count(*) AS chunk_count,
           count(DISTINCT document_id) AS document_count,
           count(DISTINCT collection_id) AS collection_count,
           avg(token_count) AS avg_tokens,
           min(created_at) AS oldest_chunk,
           max(created_at) AS newest_chunk
    FROM chunks
    GROUP BY partition_key
), totals AS (
    SELECT sum(chunk_count) AS total FROM counts
)
SELECT p.partition_num,
       coalesce(counts.chunk_count, 0) AS chunk_count,
       coalesce(counts.document_count, 0) AS document_count,
       coalesce(counts.collection_count, 0) AS collection_count,
       coalesce(round(counts.avg_tokens, 2), 0) AS avg_tokens,
       CASE WHEN totals.total > 0 THEN round(100.0 * coalesce(counts.chunk_count, 0) / totals.total, 2) ELSE 0 END
           AS chunk_percentage,
       counts.oldest_chunk,
       counts.newest_chunk
FROM generate_series(0, chunk_partition_count() - 1) AS p(partition_num)
LEFT JOIN counts ON counts.partition_key = p.partition_num
CROSS JOIN totals
ORDER BY p.partition_num;

CREATE VIEW partition_hot_spots AS
WITH activity AS (
    SELECT partition_name, last_hour, last_day, last_week FROM chunk_local_partition_activity()
    UNION ALL
    SELECT partition_name, last_hour, last_day, last_week FROM chunk_remote_partition_activity()
), recent AS (
    SELECT names.partition_num AS partition_key, activity.last_hour, activity.last_day, activity.last_week
    FROM (
    SELECT n AS partition_num,
           'chunks_part_' || lpad(n::text, greatest(2, length((chunk_partition_count() - 1)::text)), '0') AS partition_name
    FROM generate_series(0, chunk_partition_count() - 1) AS n
) AS names JOIN activity ON activity.partition_name = names.partition_name
), totals AS (
    SELECT sum(last_hour) AS total_hour, sum(last_day) AS total_day, sum(last_week) AS total_week FROM recent
)
SELECT p.partition_num,
       coalesce(recent.last_hour, 0) AS chunks_last_hour,
       coalesce(recent.last_day, 0) AS chunks_last_day,
       coalesce(recent.last_week, 0) AS chunks_last_week,
       CASE WHEN totals.total_hour > 0 THEN 100.0 * coalesce(recent.last_hour, 0) / totals.total_hour ELSE 0 END AS hour_percentage,
       CASE WHEN totals.total_day > 0 THEN 100.0 * coalesce(recent.last_day, 0) / totals.total_day ELSE 0 END AS day_percentage,
       CASE WHEN totals.total_week > 0 THEN 100.0 * coalesce(recent.last_week, 0) / totals.total_week ELSE 0 END AS week_percentage
FROM generate_series(0, chunk_partition_count() - 1) AS p(partition_num)
LEFT JOIN recent ON recent.partition_key = p.partition_num
CROSS JOIN totals
ORDER BY p.partition_num;

CREATE VIEW partition_isolated_collections AS
SELECT replace((regexp_match(pg_get_expr(s.relpartbound, s.oid), '^FOR VALUES IN \(''(.*)''\)$'))[1], '''''', '''') AS collection_id,
       substring(pg_get_expr(t.relpartbound, t.oid) FROM '\((-?\d+)\)')::integer AS partition_num,
       t.relname::text AS partition_name,
       s.relname::text AS sub_partition,
       greatest(1, (SELECT count(*) FROM pg_inherits AS h WHERE h.inhparent = s.oid))::integer AS parts,
       coalesce(leaves.rows, 0)::bigint AS rows,
       coalesce(leaves.size_bytes, 0)::bigint AS size_bytes,
       pg_size_pretty(coalesce(leaves.size_bytes, 0)::bigint) AS size_pretty
FROM pg_inherits AS ti
JOIN pg_class AS t ON t.oid = ti.inhrelid AND t.relkind = 'p'
JOIN pg_inherits AS si ON si.inhparent = t.oid
JOIN pg_class AS s ON s.oid = si.inhrelid AND pg_get_expr(s.relpartbound, s.oid) <> 'DEFAULT'
LEFT JOIN LATERAL (
    SELECT sum(pg_stat_get_live_tuples(tree.relid)) AS rows, sum(pg_total_relation_size(tree.relid)) AS size_bytes
    FROM pg_partition_tree(s.oid) AS tree WHERE tree.isleaf
) AS leaves ON true
WHERE ti.inhparent = 'chunks'::regclass;

CREATE MATERIALIZED VIEW collection_chunking_stats AS
SELECT c.id,
       c.name,
       get_partition_key(c.id) AS partition_num,
       coalesce(s.chunked_documents, 0) AS chunked_documents,
       coalesce(s.total_chunks, 0) AS total_chunks,
       s.avg_tokens_per_chunk,
       s.last_chunk_created
FROM collections AS c
LEFT JOIN (
    SELECT collection_id,
           count(DISTINCT document_id) AS chunked_documents,
           count(*) AS total_chunks,
           avg(token_count) AS avg_tokens_per_chunk,
           max(created_at) AS last_chunk_created
    FROM chunks
    GROUP BY collection_id
) AS s ON s.collection_id = c.id
WITH DATA;

CREATE UNIQUE INDEX collection_chunking_stats_id ON collection_chunking_stats (id);

CREATE INDEX collection_chunking_stats_partition ON collection_chunking_stats (partition_num, total_chunks DESC);

CREATE FUNCTION analyze_partition_skew()
RETURNS TABLE(metric text, value numeric, status text, details text)
LANGUAGE sql STABLE AS $$
WITH cat AS (
    SELECT partition_num, row_count, size_bytes FROM chunk_partition_catalog
), totals AS (
    SELECT sum(row_count) AS total_rows, sum(size_bytes) AS total_bytes,
           coalesce(stddev_pop(row_count::numeric), 0) AS sd_rows, count(*) AS partitions
    FROM cat
), skews AS (
    SELECT cat.partition_num, CASE WHEN totals.total_rows > 0 THEN abs(cat.row_count::bigint * chunk_partition_count() - totals.total_rows::bigint)::float8 / totals.total_rows::float8 ELSE 0::float8 END AS chunk_skew, CASE WHEN totals.total_bytes > 0 THEN abs(cat.size_bytes::bigint * chunk_partition_count() - totals.total_bytes::bigint)::float8 / totals.total_bytes::float8 ELSE 0::float8 END AS size_skew FROM cat CROSS JOIN totals
), worst_chunk AS (
    SELECT partition_num, chunk_skew FROM skews ORDER BY chunk_skew DESC, partition_num LIMIT 1
), worst_size AS (
    SELECT partition_num, size_skew FROM skews ORDER BY size_skew DESC, partition_num LIMIT 1
), variation AS (
    SELECT (CASE WHEN total_rows > 0 AND partitions > 1
                 THEN sd_rows / (total_rows::numeric / chunk_partition_count()) ELSE 0 END)::float8 AS value
    FROM totals
)
SELECT 'chunk_distribution'::text,
       w.chunk_skew::numeric,
       CASE WHEN w.chunk_skew >= 0.5::float8 THEN 'CRITICAL' WHEN w.chunk_skew >= 0.3::float8 THEN 'WARNING' ELSE 'NORMAL' END,
       CASE WHEN t.total_rows > 0
            THEN format('max chunk skew %s at partition %s', round(w.chunk_skew::numeric, 3), w.partition_num)
            ELSE 'no chunks stored' END
FROM worst_chunk AS w CROSS JOIN totals AS t
UNION ALL
SELECT 'size_distribution'::text,
       w.size_skew::numeric,
       CASE WHEN w.size_skew >= 0.5::float8 THEN 'CRITICAL' WHEN w.size_skew >= 0.3::float8 THEN 'WARNING' ELSE 'NORMAL' END,
       CASE WHEN t.total_rows > 0
            THEN format('max size skew %s at partition %s', round(w.size_skew::numeric, 3), w.partition_num)
            ELSE 'no chunks stored' END
FROM worst_size AS w CROSS JOIN totals AS t
UNION ALL
SELECT 'chunk_count_variation'::text,
       v.value::numeric,
       CASE WHEN v.value >= 0.5::float8 THEN 'CRITICAL' WHEN v.value >= 0.3::float8 THEN 'WARNING' ELSE 'NORMAL' END,
       format('coefficient of variation of chunk counts over %s partitions', chunk_partition_count())
FROM variation AS v
$$;

CREATE FUNCTION refresh_collection_chunking_stats() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- CONCURRENTLY keeps readers unblocked but needs a populated view; the first fill is a plain refresh.
    IF (SELECT relispopulated FROM pg_class WHERE oid = 'collection_chunking_stats'::regclass) THEN
        REFRESH MATERIALIZED VIEW CONCURRENTLY collection_chunking_stats;
    ELSE
        REFRESH MATERIALIZED VIEW collection_chunking_stats;
    END IF;
END
$$;

UPDATE semantik_chunks_alembic_version SET version_num='sc0007' WHERE semantik_chunks_alembic_version.version_num = 'sc0006';

COMMIT;


-- downgrade sc0007:sc0006
BEGIN;

-- Running downgrade sc0007 -> sc0006

DROP FUNCTION IF EXISTS analyze_partition_skew() CASCADE;

DROP FUNCTION IF EXISTS refresh_collection_chunking_stats() CASCADE;

DROP FUNCTION IF EXISTS chunks_written_since(interval) CASCADE;

DROP FUNCTION IF EXISTS chunk_remote_partition_stats() CASCADE;

DROP FUNCTION IF EXISTS chunk_remote_partition_activity() CASCADE;

DROP FUNCTION IF EXISTS chunk_local_partition_newest() CASCADE;

DROP FUNCTION IF EXISTS chunk_local_partition_activity() CASCADE;

DO $$
DECLARE
    found record;
BEGIN
    FOR found IN
        SELECT c.relname, c.relkind
        FROM unnest(ARRAY['chunk_partition_catalog', 'partition_stats', 'partition_health_summary', 'partition_health', 'partition_distribution', 'partition_size_distribution', 'partition_chunk_distribution', 'partition_hot_spots', 'partition_isolated_collections', 'collection_chunking_stats']) AS wanted(name)
        JOIN pg_class AS c ON c.oid = to_regclass(wanted.name)
    LOOP
        IF found.relkind = 'v' THEN
            EXECUTE format('DROP VIEW IF EXISTS %I CASCADE', found.relname);
        ELSIF found.relkind = 'm' THEN
            EXECUTE format('DROP MATERIALIZED VIEW IF EXISTS %I CASCADE', found.relname);
        END IF;
    END LOOP;
END
$$;

CREATE VIEW chunk_partition_catalog AS
SELECT p.partition_num,
       p.partition_name,
       coalesce(leaves.row_count, 0)::bigint AS row_count,
       coalesce(leaves.dead_rows, 0)::bigint AS dead_rows,
       coalesce(leaves.size_bytes, 0)::bigint AS size_bytes
FROM (
    SELECT n AS partition_num,
           'chunks_part_' || lpad(n::text, greatest(2, length((chunk_partition_count() - 1)::text)), '0') AS partition_name
    FROM generate_series(0, chunk_partition_count() - 1) AS n
) AS p
LEFT JOIN (pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid)
       ON i.inhparent = 'chunks'::regclass AND c.relname = p.partition_name
LEFT JOIN LATERAL (
    SELECT sum(CASE
                   WHEN pg_stat_get_live_tuples(l.oid) = 0 AND pg_stat_get_tuples_inserted(l.oid) = 0
                        AND pg_stat_get_dead_tuples(l.oid) = 0 THEN greatest(l.reltuples, 0)::bigint
                   ELSE pg_stat_get_live_tuples(l.oid)
               END) AS row_count,
           sum(pg_stat_get_dead_tuples(l.oid)) AS dead_rows,
           sum(pg_total_relation_size(l.oid)) AS size_bytes
    FROM pg_partition_tree(c.oid) AS tree JOIN pg_class AS l ON l.oid = tree.relid
    WHERE tree.isleaf
) AS leaves ON c.oid IS NOT NULL;

CREATE VIEW partition_stats AS
SELECT c.partition_num,
       c.partition_name,
       c.row_count AS chunk_count,
       round(c.size_bytes / 1048576.0, 3) AS total_size_mb,
       CASE WHEN c.row_count > 0 THEN round(c.size_bytes / 1024.0 / c.row_count, 3) ELSE 0 END AS avg_chunk_size_kb,
       (SELECT max(k.created_at) FROM chunks AS k WHERE k.partition_key = c.partition_num) AS created_at,
       c.size_bytes,
       c.dead_rows
FROM chunk_partition_catalog AS c
ORDER BY c.partition_num;

CREATE VIEW partition_health_summary AS
WITH cat AS (
    SELECT partition_num, row_count, size_bytes FROM chunk_partition_catalog
), totals AS (
    SELECT sum(row_count)::bigint AS total_rows, sum(size_bytes)::bigint AS total_bytes FROM cat
), skews AS (
    SELECT cat.partition_num, cat.row_count, cat.size_bytes, totals.total_rows, totals.total_bytes,
           CASE WHEN totals.total_rows > 0 THEN abs(cat.row_count::bigint * chunk_partition_count() - totals.total_rows::bigint)::float8 / totals.total_rows::float8 ELSE 0::float8 END AS chunk_skew,
           CASE WHEN totals.total_bytes > 0 THEN abs(cat.size_bytes::bigint * chunk_partition_count() - totals.total_bytes::bigint)::float8 / totals.total_bytes::float8 ELSE 0::float8 END AS size_skew
    FROM cat CROSS JOIN totals
), statuses AS (
    SELECT skews.*, CASE WHEN chunk_skew >= 0.5::float8 THEN 'UNBALANCED' WHEN chunk_skew >= 0.3::float8 THEN 'WARNING' ELSE 'HEALTHY' END AS health_status FROM skews
)
SELECT partition_num,
       row_count AS chunk_count,
       total_rows AS total_chunks,
       (CASE WHEN total_rows > 0 THEN 100.0::float8 * row_count / total_rows ELSE 0::float8 END)::numeric AS chunk_percentage,
       (CASE WHEN total_bytes > 0 THEN 100.0::float8 * size_bytes / total_bytes ELSE 0::float8 END)::numeric AS size_percentage,
       health_status,
       chunk_skew::numeric AS chunk_skew,
       size_skew::numeric AS size_skew,
       CASE health_status
           WHEN 'UNBALANCED' THEN 'Unbalanced: see the rebalancing recommendations for the collections behind it'
           WHEN 'WARNING' THEN 'Monitor partition growth'
       END AS recommendation,
       pg_size_pretty(size_bytes) AS partition_size,
       size_bytes
FROM statuses
ORDER BY partition_num;

CREATE VIEW partition_health AS
WITH cat AS (
    SELECT chunk_partition_catalog.*, to_regclass(quote_ident(partition_name)) AS relid FROM chunk_partition_catalog
), totals AS (
    SELECT sum(row_count)::bigint AS total_rows FROM cat
), deviations AS (
    SELECT cat.*, totals.total_rows,
           CASE WHEN totals.total_rows > 0
                THEN (cat.row_count * chunk_partition_count() - totals.total_rows)::float8 / totals.total_rows::float8
                ELSE 0::float8 END AS deviation
    FROM cat CROSS JOIN totals
)
SELECT partition_name,
       partition_num AS partition_id,
       partition_num,
       size_bytes,
       row_count,
       dead_rows,
       pg_stat_get_last_vacuum_time(relid) AS last_vacuum,
       pg_stat_get_last_autovacuum_time(relid) AS last_autovacuum,
       pg_size_pretty(size_bytes) AS size_pretty,
       (100.0::float8 * deviation)::numeric AS pct_deviation_from_avg,
       CASE
           WHEN total_rows > 0 AND deviation >= 0.3::float8 THEN 'HOT'
           WHEN total_rows > 0 AND -deviation >= 0.3::float8 THEN 'COLD'
           ELSE 'NORMAL'
       END AS partition_status,
       dead_rows > row_count * 0.1 AS needs_vacuum
FROM deviations
ORDER BY partition_num;

CREATE VIEW partition_distribution AS
WITH cat AS (
    SELECT row_count, size_bytes FROM chunk_partition_catalog
), agg AS (
    SELECT count(*) FILTER (WHERE row_count > 0) AS partitions_used,
           count(*) FILTER (WHERE row_count = 0) AS empty_partitions,
           coalesce(sum(row_count), 0)::bigint AS total_chunks,
           coalesce(sum(size_bytes), 0)::bigint AS total_size_bytes,
           coalesce(max(row_count), 0) AS max_chunks,
           coalesce(min(row_count), 0) AS min_chunks,
           coalesce(stddev_samp(row_count), 0) AS stddev_chunks
    FROM cat
)
SELECT chunk_partition_count() AS partition_count,
       partitions_used,
       total_chunks,
       total_size_bytes,
       (total_chunks::float8 / chunk_partition_count())::numeric AS avg_chunks_per_partition,
       stddev_chunks,
       max_chunks,
       min_chunks,
       (CASE WHEN total_chunks > 0 THEN max_chunks / (total_chunks::float8 / chunk_partition_count()) ELSE 0::float8 END)::numeric
           AS max_skew_ratio,
       CASE WHEN CASE WHEN total_chunks > 0 THEN abs(max_chunks::bigint * chunk_partition_count() - total_chunks::bigint)::float8 / total_chunks::float8 ELSE 0::float8 END >= 0.5::float8 THEN 'UNBALANCED' WHEN CASE WHEN total_chunks > 0 THEN abs(max_chunks::bigint * chunk_partition_count() - total_chunks::bigint)::float8 / total_chunks::float8 ELSE 0::float8 END >= 0.3::float8 THEN 'WARNING' ELSE 'HEALTHY' END AS distribution_status,
       empty_partitions
FROM agg;

CREATE VIEW partition_size_distribution AS
WITH cat AS (
    SELECT * FROM chunk_partition_catalog
), totals AS (
    SELECT sum(size_bytes) AS total_bytes FROM cat
)
SELECT cat.partition_num,
       cat.partition_name,
       cat.size_bytes,
       pg_size_pretty(cat.size_bytes) AS size_pretty,
       CASE WHEN totals.total_bytes > 0 THEN round(100.0 * cat.size_bytes / totals.total_bytes, 2) ELSE 0 END
           AS size_percentage,
       cat.row_count AS row_estimate
FROM cat CROSS JOIN totals
ORDER BY cat.partition_num;

CREATE VIEW partition_chunk_distribution AS
WITH counts AS (
    SELECT partition_key,
           count(*) AS chunk_count,
           count(DISTINCT document_id) AS document_count,
           count(DISTINCT collection_id) AS collection_count,
           avg(token_count) AS avg_tokens,
           min(created_at) AS oldest_chunk,
           max(created_at) AS newest_chunk
    FROM chunks
    GROUP BY partition_key
), totals AS (
    SELECT sum(chunk_count) AS total FROM counts
)
SELECT p.partition_num,
       coalesce(counts.chunk_count, 0) AS chunk_count,
       coalesce(counts.document_count, 0) AS document_count,
       coalesce(counts.collection_count, 0) AS collection_count,
       coalesce(round(counts.avg_tokens, 2), 0) AS avg_tokens,
       CASE WHEN totals.total > 0 THEN round(100.0 * coalesce(counts.chunk_count, 0) / totals.total, 2) ELSE 0 END
           AS chunk_percentage,
       counts.oldest_chunk,
       counts.newest_chunk
FROM generate_series(0, chunk_partition_count() - 1) AS p(partition_num)
LEFT JOIN counts ON counts.partition_key = p.partition_num
CROSS JOIN totals
ORDER BY p.partition_num;

CREATE FUNCTION chunks_written_since(span interval) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL UNSAFE AS 'SELECT now() - span';

CREATE VIEW partition_hot_spots AS
WITH recent AS (
    SELECT partition_key,
           count(*) FILTER (WHERE created_at > chunks_written_since('1 hour')) AS last_hour,
           count(*) FILTER (WHERE created_at > chunks_written_since('24 hours')) AS last_day,
           count(*) FILTER (WHERE created_at > chunks_written_since('168 hours')) AS last_week
    FROM chunks
    WHERE created_at > chunks_written_since('168 hours')
    GROUP BY partition_key
), totals AS (
    SELECT sum(last_hour) AS total_hour, sum(last_day) AS total_day, sum(last_week) AS total_week FROM recent
)
SELECT p.partition_num,
       coalesce(recent.last_hour, 0) AS chunks_last_hour,
       coalesce(recent.last_day, 0) AS chunks_last_day,
       coalesce(recent.last_week, 0) AS chunks_last_week,
       CASE WHEN totals.total_hour > 0 THEN 100.0 * coalesce(recent.last_hour, 0) / totals.total_hour ELSE 0 END AS hour_percentage,
       CASE WHEN totals.total_day > 0 THEN 100.0 * coalesce(recent.last_day, 0) / totals.total_day ELSE 0 END AS day_percentage,
       CASE WHEN totals.total_week > 0 THEN 100.0 * coalesce(recent.last_week, 0) / totals.total_week ELSE 0 END AS week_percentage
FROM generate_series(0, chunk_partition_count() - 1) AS p(partition_num)
LEFT JOIN recent ON recent.partition_key = p.partition_num
CROSS JOIN totals
ORDER BY p.partition_num;

CREATE VIEW partition_isolated_collections AS
SELECT replace((regexp_match(pg_get_expr(s.relpartbound, s.oid), '^FOR VALUES IN \(''(.*)''\)$'))[1], '''''', '''') AS collection_id,
       substring(pg_get_expr(t.relpartbound, t.oid) FROM '\((-?\d+)\)')::integer AS partition_num,
       t.relname::text AS partition_name,
       s.relname::text AS sub_partition,
       greatest(1, (SELECT count(*) FROM pg_inherits AS h WHERE h.inhparent = s.oid))::integer AS parts,
       coalesce(leaves.rows, 0)::bigint AS rows,
       coalesce(leaves.size_bytes, 0)::bigint AS size_bytes,
       pg_size_pretty(coalesce(leaves.size_bytes, 0)::bigint) AS size_pretty
FROM pg_inherits AS ti
JOIN pg_class AS t ON t.oid = ti.inhrelid AND t.relkind = 'p'
JOIN pg_inherits AS si ON si.inhparent = t.oid
JOIN pg_class AS s ON s.oid = si.inhrelid AND pg_get_expr(s.relpartbound, s.oid) <> 'DEFAULT'
LEFT JOIN LATERAL (
    SELECT sum(pg_stat_get_live_tuples(tree.relid)) AS rows, sum(pg_total_relation_size(tree.relid)) AS size_bytes
    FROM pg_partition_tree(s.oid) AS tree WHERE tree.isleaf
) AS leaves ON true
WHERE ti.inhparent = 'chunks'::regclass;

CREATE MATERIALIZED VIEW collection_chunking_stats AS
SELECT c.id,
       c.name,
       get_partition_key(c.id) AS partition_num,
       coalesce(s.chunked_documents, 0) AS chunked_documents,
       coalesce(s.total_chunks, 0) AS total_chunks,
       s.avg_tokens_per_chunk,
       s.last_chunk_created
FROM collections AS c
LEFT JOIN (
    SELECT collection_id,
           count(DISTINCT document_id) AS chunked_documents,
           count(*) AS total_chunks,
           avg(token_count) AS avg_tokens_per_chunk,
           max(created_at) AS last_chunk_created
    FROM chunks
    GROUP BY collection_id
) AS s ON s.collection_id = c.id
WITH DATA;

CREATE UNIQUE INDEX collection_chunking_stats_id ON collection_chunking_stats (id);

CREATE INDEX collection_chunking_stats_partition ON collection_chunking_stats (partition_num, total_chunks DESC);

CREATE FUNCTION analyze_partition_skew()
RETURNS TABLE(metric text, value numeric, status text, details text)
LANGUAGE sql STABLE AS $$
WITH cat AS (
    SELECT partition_num, row_count, size_bytes FROM chunk_partition_catalog
), totals AS (
    SELECT sum(row_count) AS total_rows, sum(size_bytes) AS total_bytes,
           coalesce(stddev_pop(row_count::numeric), 0) AS sd_rows, count(*) AS partitions
    FROM cat
), skews AS (
    SELECT cat.partition_num, CASE WHEN totals.total_rows > 0 THEN abs(cat.row_count::bigint * chunk_partition_count() - totals.total_rows::bigint)::float8 / totals.total_rows::float8 ELSE 0::float8 END AS chunk_skew, CASE WHEN totals.total_bytes > 0 THEN abs(cat.size_bytes::bigint * chunk_partition_count() - totals.total_bytes::bigint)::float8 / totals.total_bytes::float8 ELSE 0::float8 END AS size_skew FROM cat CROSS JOIN totals
), worst_chunk AS (
    SELECT partition_num, chunk_skew FROM skews ORDER BY chunk_skew DESC, partition_num LIMIT 1
), worst_size AS (
    SELECT partition_num, size_skew FROM skews ORDER BY size_skew DESC, partition_num LIMIT 1
), variation AS (
    SELECT (CASE WHEN total_rows > 0 AND partitions > 1
                 THEN sd_rows / (total_rows::numeric / chunk_partition_count()) ELSE 0 END)::float8 AS value
    FROM totals
)
SELECT 'chunk_distribution'::text,
       w.chunk_skew::numeric,
       CASE WHEN w.chunk_skew >= 0.5::float8 THEN 'CRITICAL' WHEN w.chunk_skew >= 0.3::float8 THEN 'WARNING' ELSE 'NORMAL' END,
       CASE WHEN t.total_rows > 0
            THEN format('max chunk skew %s at partition %s', round(w.chunk_skew::numeric, 3), w.partition_num)
            ELSE 'no chunks stored' END
FROM worst_chunk AS w CROSS JOIN totals AS t
UNION ALL
SELECT 'size_distribution'::text,
       w.size_skew::numeric,
       CASE WHEN w.size_skew >= 0.5::float8 THEN 'CRITICAL' WHEN w.size_skew >= 0.3::float8 THEN 'WARNING' ELSE 'NORMAL' END,
       CASE WHEN t.total_rows > 0
            THEN format('max size skew %s at partition %s', round(w.size_skew::numeric, 3), w.partition_num)
            ELSE 'no chunks stored' END
FROM worst_size AS w CROSS JOIN totals AS t
UNION ALL
SELECT 'chunk_count_variation'::text,
       v.value::numeric,
       CASE WHEN v.value >= 0.5::float8 THEN 'CRITICAL' WHEN v.value >= 0.3::float8 THEN 'WARNING' ELSE 'NORMAL' END,
       format('coefficient of variation of chunk counts over %s partitions', chunk_partition_count())
FROM variation AS v
$$;

CREATE FUNCTION refresh_collection_chunking_stats() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- CONCURRENTLY keeps readers unblocked but needs a populated view; the first fill is a plain refresh.
    IF (SELECT relispopulated FROM pg_class WHERE oid = 'collection_chunking_stats'::regclass) THEN
        REFRESH MATERIALIZED VIEW CONCURRENTLY collection_chunking_stats;
    ELSE
        REFRESH MATERIALIZED VIEW collection_chunking_stats;
    END IF;
END
$$;

DROP TRIGGER IF EXISTS semantik_chunks_cascade_remote_chunks ON collections;

DROP FUNCTION IF EXISTS semantik_chunks_cascade_remote_chunks();

DROP FUNCTION IF EXISTS semantik_chunks_check_collection();

DROP FUNCTION IF EXISTS semantik_chunks_capture();

DROP TABLE IF EXISTS semantik_chunks_move_log;

DROP TABLE IF EXISTS semantik_chunks_moves;

ALTER TABLE "chunks_part_00" DROP CONSTRAINT IF EXISTS "chunks_part_00_collection_id_fkey";

ALTER TABLE "chunks_part_00" DROP CONSTRAINT IF EXISTS "chunks_part_00_pkey";

ALTER TABLE "chunks_part_01" DROP CONSTRAINT IF EXISTS "chunks_part_01_collection_id_fkey";

ALTER TABLE "chunks_part_01" DROP CONSTRAINT IF EXISTS "chunks_part_01_pkey";

ALTER TABLE "chunks_part_02" DROP CONSTRAINT IF EXISTS "chunks_part_02_collection_id_fkey";

ALTER TABLE "chunks_part_02" DROP CONSTRAINT IF EXISTS "chunks_part_02_pkey";

ALTER TABLE "chunks_part_03" DROP CONSTRAINT IF EXISTS "chunks_part_03_collection_id_fkey";

ALTER TABLE "chunks_part_03" DROP CONSTRAINT IF EXISTS "chunks_part_03_pkey";

ALTER TABLE "chunks_part_04" DROP CONSTRAINT IF EXISTS "chunks_part_04_collection_id_fkey";

ALTER TABLE "chunks_part_04" DROP CONSTRAINT IF EXISTS "chunks_part_04_pkey";

ALTER TABLE "chunks_part_05" DROP CONSTRAINT IF EXISTS "chunks_part_05_collection_id_fkey";

ALTER TABLE "chunks_part_05" DROP CONSTRAINT IF EXISTS "chunks_part_05_pkey";

ALTER TABLE "chunks_part_06" DROP CONSTRAINT IF EXISTS "chunks_part_06_collection_id_fkey";

ALTER TABLE "chunks_part_06" DROP CONSTRAINT IF EXISTS "chunks_part_06_pkey";

ALTER TABLE "chunks_part_07" DROP CONSTRAINT IF EXISTS "chunks_part_07_collection_id_fkey";

ALTER TABLE "chunks_part_07" DROP CONSTRAINT IF EXISTS "chunks_part_07_pkey";

ALTER TABLE "chunks_part_08" DROP CONSTRAINT IF EXISTS "chunks_part_08_collection_id_fkey";

ALTER TABLE "chunks_part_08" DROP CONSTRAINT IF EXISTS "chunks_part_08_pkey";

ALTER TABLE "chunks_part_09" DROP CONSTRAINT IF EXISTS "chunks_part_09_collection_id_fkey";

ALTER TABLE "chunks_part_09" DROP CONSTRAINT IF EXISTS "chunks_part_09_pkey";

ALTER TABLE "chunks_part_10" DROP CONSTRAINT IF EXISTS "chunks_part_10_collection_id_fkey";

ALTER TABLE "chunks_part_10" DROP CONSTRAINT IF EXISTS "chunks_part_10_pkey";

ALTER TABLE "chunks_part_11" DROP CONSTRAINT IF EXISTS "chunks_part_11_collection_id_fkey";

ALTER TABLE "chunks_part_11" DROP CONSTRAINT IF EXISTS "chunks_part_11_pkey";

ALTER TABLE "chunks_part_12" DROP CONSTRAINT IF EXISTS "chunks_part_12_collection_id_fkey";

ALTER TABLE "chunks_part_12" DROP CONSTRAINT IF EXISTS "chunks_part_12_pkey";

ALTER TABLE "chunks_part_13" DROP CONSTRAINT IF EXISTS "chunks_part_13_collection_id_fkey";

ALTER TABLE "chunks_part_13" DROP CONSTRAINT IF EXISTS "chunks_part_13_pkey";

ALTER TABLE "chunks_part_14" DROP CONSTRAINT IF EXISTS "chunks_part_14_collection_id_fkey";

ALTER TABLE "chunks_part_14" DROP CONSTRAINT IF EXISTS "chunks_part_14_pkey";

ALTER TABLE "chunks_part_15" DROP CONSTRAINT IF EXISTS "chunks_part_15_collection_id_fkey";

ALTER TABLE "chunks_part_15" DROP CONSTRAINT IF EXISTS "chunks_part_15_pkey";

ALTER TABLE "chunks_part_16" DROP CONSTRAINT IF EXISTS "chunks_part_16_collection_id_fkey";

ALTER TABLE "chunks_part_16" DROP CONSTRAINT IF EXISTS "chunks_part_16_pkey";

ALTER TABLE "chunks_part_17" DROP CONSTRAINT IF EXISTS "chunks_part_17_collection_id_fkey";

ALTER TABLE "chunks_part_17" DROP CONSTRAINT IF EXISTS "chunks_part_17_pkey";

ALTER TABLE "chunks_part_18" DROP CONSTRAINT IF EXISTS "chunks_part_18_collection_id_fkey";

ALTER TABLE "chunks_part_18" DROP CONSTRAINT IF EXISTS "chunks_part_18_pkey";

ALTER TABLE "chunks_part_19" DROP CONSTRAINT IF EXISTS "chunks_part_19_collection_id_fkey";

ALTER TABLE "chunks_part_19" DROP CONSTRAINT IF EXISTS "chunks_part_19_pkey";

ALTER TABLE "chunks_part_20" DROP CONSTRAINT IF EXISTS "chunks_part_20_collection_id_fkey";

ALTER TABLE "chunks_part_20" DROP CONSTRAINT IF EXISTS "chunks_part_20_pkey";

ALTER TABLE "chunks_part_21" DROP CONSTRAINT IF EXISTS "chunks_part_21_collection_id_fkey";

ALTER TABLE "chunks_part_21" DROP CONSTRAINT IF EXISTS "chunks_part_21_pkey";

ALTER TABLE "chunks_part_22" DROP CONSTRAINT IF EXISTS "chunks_part_22_collection_id_fkey";

ALTER TABLE "chunks_part_22" DROP CONSTRAINT IF EXISTS "chunks_part_22_pkey";

ALTER TABLE "chunks_part_23" DROP CONSTRAINT IF EXISTS "chunks_part_23_collection_id_fkey";

ALTER TABLE "chunks_part_23" DROP CONSTRAINT IF EXISTS "chunks_part_23_pkey";

ALTER TABLE "chunks_part_24" DROP CONSTRAINT IF EXISTS "chunks_part_24_collection_id_fkey";

ALTER TABLE "chunks_part_24" DROP CONSTRAINT IF EXISTS "chunks_part_24_pkey";

ALTER TABLE "chunks_part_25" DROP CONSTRAINT IF EXISTS "chunks_part_25_collection_id_fkey";

ALTER TABLE "chunks_part_25" DROP CONSTRAINT IF EXISTS "chunks_part_25_pkey";

ALTER TABLE "chunks_part_26" DROP CONSTRAINT IF EXISTS "chunks_part_26_collection_id_fkey";

ALTER TABLE "chunks_part_26" DROP CONSTRAINT IF EXISTS "chunks_part_26_pkey";

ALTER TABLE "chunks_part_27" DROP CONSTRAINT IF EXISTS "chunks_part_27_collection_id_fkey";

ALTER TABLE "chunks_part_27" DROP CONSTRAINT IF EXISTS "chunks_part_27_pkey";

ALTER TABLE "chunks_part_28" DROP CONSTRAINT IF EXISTS "chunks_part_28_collection_id_fkey";

ALTER TABLE "chunks_part_28" DROP CONSTRAINT IF EXISTS "chunks_part_28_pkey";

ALTER TABLE "chunks_part_29" DROP CONSTRAINT IF EXISTS "chunks_part_29_collection_id_fkey";

ALTER TABLE "chunks_part_29" DROP CONSTRAINT IF EXISTS "chunks_part_29_pkey";

ALTER TABLE "chunks_part_30" DROP CONSTRAINT IF EXISTS "chunks_part_30_collection_id_fkey";

ALTER TABLE "chunks_part_30" DROP CONSTRAINT IF EXISTS "chunks_part_30_pkey";

ALTER TABLE "chunks_part_31" DROP CONSTRAINT IF EXISTS "chunks_part_31_collection_id_fkey";

ALTER TABLE "chunks_part_31" DROP CONSTRAINT IF EXISTS "chunks_part_31_pkey";

ALTER TABLE "chunks_part_32" DROP CONSTRAINT IF EXISTS "chunks_part_32_collection_id_fkey";

ALTER TABLE "chunks_part_32" DROP CONSTRAINT IF EXISTS "chunks_part_32_pkey";

ALTER TABLE "chunks_part_33" DROP CONSTRAINT IF EXISTS "chunks_part_33_collection_id_fkey";

ALTER TABLE "chunks_part_33" DROP CONSTRAINT IF EXISTS "chunks_part_33_pkey";

ALTER TABLE "chunks_part_34" DROP CONSTRAINT IF EXISTS "chunks_part_34_collection_id_fkey";

ALTER TABLE "chunks_part_34" DROP CONSTRAINT IF EXISTS "chunks_part_34_pkey";

ALTER TABLE "chunks_part_35" DROP CONSTRAINT IF EXISTS "chunks_part_35_collection_id_fkey";

ALTER TABLE "chunks_part_35" DROP CONSTRAINT IF EXISTS "chunks_part_35_pkey";

ALTER TABLE "chunks_part_36" DROP CONSTRAINT IF EXISTS "chunks_part_36_collection_id_fkey";

ALTER TABLE "chunks_part_36" DROP CONSTRAINT IF EXISTS "chunks_part_36_pkey";

ALTER TABLE "chunks_part_37" DROP CONSTRAINT IF EXISTS "chunks_part_37_collection_id_fkey";

ALTER TABLE "chunks_part_37" DROP CONSTRAINT IF EXISTS "chunks_part_37_pkey";

ALTER TABLE "chunks_part_38" DROP CONSTRAINT IF EXISTS "chunks_part_38_collection_id_fkey";

ALTER TABLE "chunks_part_38" DROP CONSTRAINT IF EXISTS "chunks_part_38_pkey";

ALTER TABLE "chunks_part_39" DROP CONSTRAINT IF EXISTS "chunks_part_39_collection_id_fkey";

ALTER TABLE "chunks_part_39" DROP CONSTRAINT IF EXISTS "chunks_part_39_pkey";

ALTER TABLE "chunks_part_40" DROP CONSTRAINT IF EXISTS "chunks_part_40_collection_id_fkey";

ALTER TABLE "chunks_part_40" DROP CONSTRAINT IF EXISTS "chunks_part_40_pkey";

ALTER TABLE "chunks_part_41" DROP CONSTRAINT IF EXISTS "chunks_part_41_collection_id_fkey";

ALTER TABLE "chunks_part_41" DROP CONSTRAINT IF EXISTS "chunks_part_41_pkey";

ALTER TABLE "chunks_part_42" DROP CONSTRAINT IF EXISTS "chunks_part_42_collection_id_fkey";

ALTER TABLE "chunks_part_42" DROP CONSTRAINT IF EXISTS "chunks_part_42_pkey";

ALTER TABLE "chunks_part_43" DROP CONSTRAINT IF EXISTS "chunks_part_43_collection_id_fkey";

ALTER TABLE "chunks_part_43" DROP CONSTRAINT IF EXISTS "chunks_part_43_pkey";

ALTER TABLE "chunks_part_44" DROP CONSTRAINT IF EXISTS "chunks_part_44_collection_id_fkey";

ALTER TABLE "chunks_part_44" DROP CONSTRAINT IF EXISTS "chunks_part_44_pkey";

ALTER TABLE "chunks_part_45" DROP CONSTRAINT IF EXISTS "chunks_part_45_collection_id_fkey";

ALTER TABLE "chunks_part_45" DROP CONSTRAINT IF EXISTS "chunks_part_45_pkey";

ALTER TABLE "chunks_part_46" DROP CONSTRAINT IF EXISTS "chunks_part_46_collection_id_fkey";

ALTER TABLE "chunks_part_46" DROP CONSTRAINT IF EXISTS "chunks_part_46_pkey";

ALTER TABLE "chunks_part_47" DROP CONSTRAINT IF EXISTS "chunks_part_47_collection_id_fkey";

ALTER TABLE "chunks_part_47" DROP CONSTRAINT IF EXISTS "chunks_part_47_pkey";

ALTER TABLE "chunks_part_48" DROP CONSTRAINT IF EXISTS "chunks_part_48_collection_id_fkey";

ALTER TABLE "chunks_part_48" DROP CONSTRAINT IF EXISTS "chunks_part_48_pkey";

ALTER TABLE "chunks_part_49" DROP CONSTRAINT IF EXISTS "chunks_part_49_collection_id_fkey";

ALTER TABLE "chunks_part_49" DROP CONSTRAINT IF EXISTS "chunks_part_49_pkey";

ALTER TABLE "chunks_part_50" DROP CONSTRAINT IF EXISTS "chunks_part_50_collection_id_fkey";

ALTER TABLE "chunks_part_50" DROP CONSTRAINT IF EXISTS "chunks_part_50_pkey";

ALTER TABLE "chunks_part_51" DROP CONSTRAINT IF EXISTS "chunks_part_51_collection_id_fkey";

ALTER TABLE "chunks_part_51" DROP CONSTRAINT IF EXISTS "chunks_part_51_pkey";

ALTER TABLE "chunks_part_52" DROP CONSTRAINT IF EXISTS "chunks_part_52_collection_id_fkey";

ALTER TABLE "chunks_part_52" DROP CONSTRAINT IF EXISTS "chunks_part_52_pkey";

ALTER TABLE "chunks_part_53" DROP CONSTRAINT IF EXISTS "chunks_part_53_collection_id_fkey";

ALTER TABLE "chunks_part_53" DROP CONSTRAINT IF EXISTS "chunks_part_53_pkey";

ALTER TABLE "chunks_part_54" DROP CONSTRAINT IF EXISTS "chunks_part_54_collection_id_fkey";

ALTER TABLE "chunks_part_54" DROP CONSTRAINT IF EXISTS "chunks_part_54_pkey";

ALTER TABLE "chunks_part_55" DROP CONSTRAINT IF EXISTS "chunks_part_55_collection_id_fkey";

ALTER TABLE "chunks_part_55" DROP CONSTRAINT IF EXISTS "chunks_part_55_pkey";

ALTER TABLE "chunks_part_56" DROP CONSTRAINT IF EXISTS "chunks_part_56_collection_id_fkey";

ALTER TABLE "chunks_part_56" DROP CONSTRAINT IF EXISTS "chunks_part_56_pkey";

ALTER TABLE "chunks_part_57" DROP CONSTRAINT IF EXISTS "chunks_part_57_collection_id_fkey";

ALTER TABLE "chunks_part_57" DROP CONSTRAINT IF EXISTS "chunks_part_57_pkey";

ALTER TABLE "chunks_part_58" DROP CONSTRAINT IF EXISTS "chunks_part_58_collection_id_fkey";

ALTER TABLE "chunks_part_58" DROP CONSTRAINT IF EXISTS "chunks_part_58_pkey";

ALTER TABLE "chunks_part_59" DROP CONSTRAINT IF EXISTS "chunks_part_59_collection_id_fkey";

ALTER TABLE "chunks_part_59" DROP CONSTRAINT IF EXISTS "chunks_part_59_pkey";

ALTER TABLE "chunks_part_60" DROP CONSTRAINT IF EXISTS "chunks_part_60_collection_id_fkey";

ALTER TABLE "chunks_part_60" DROP CONSTRAINT IF EXISTS "chunks_part_60_pkey";

ALTER TABLE "chunks_part_61" DROP CONSTRAINT IF EXISTS "chunks_part_61_collection_id_fkey";

ALTER TABLE "chunks_part_61" DROP CONSTRAINT IF EXISTS "chunks_part_61_pkey";

ALTER TABLE "chunks_part_62" DROP CONSTRAINT IF EXISTS "chunks_part_62_collection_id_fkey";

ALTER TABLE "chunks_part_62" DROP CONSTRAINT IF EXISTS "chunks_part_62_pkey";

ALTER TABLE "chunks_part_63" DROP CONSTRAINT IF EXISTS "chunks_part_63_collection_id_fkey";

ALTER TABLE "chunks_part_63" DROP CONSTRAINT IF EXISTS "chunks_part_63_pkey";

ALTER TABLE "chunks_part_64" DROP CONSTRAINT IF EXISTS "chunks_part_64_collection_id_fkey";

ALTER TABLE "chunks_part_64" DROP CONSTRAINT IF EXISTS "chunks_part_64_pkey";

ALTER TABLE "chunks_part_65" DROP CONSTRAINT IF EXISTS "chunks_part_65_collection_id_fkey";

ALTER TABLE "chunks_part_65" DROP CONSTRAINT IF EXISTS "chunks_part_65_pkey";

ALTER TABLE "chunks_part_66" DROP CONSTRAINT IF EXISTS "chunks_part_66_collection_id_fkey";

ALTER TABLE "chunks_part_66" DROP CONSTRAINT IF EXISTS "chunks_part_66_pkey";

ALTER TABLE "chunks_part_67" DROP CONSTRAINT IF EXISTS "chunks_part_67_collection_id_fkey";

ALTER TABLE "chunks_part_67" DROP CONSTRAINT IF EXISTS "chunks_part_67_pkey";

ALTER TABLE "chunks_part_68" DROP CONSTRAINT IF EXISTS "chunks_part_68_collection_id_fkey";

ALTER TABLE "chunks_part_68" DROP CONSTRAINT IF EXISTS "chunks_part_68_pkey";

ALTER TABLE "chunks_part_69" DROP CONSTRAINT IF EXISTS "chunks_part_69_collection_id_fkey";

ALTER TABLE "chunks_part_69" DROP CONSTRAINT IF EXISTS "chunks_part_69_pkey";

ALTER TABLE "chunks_part_70" DROP CONSTRAINT IF EXISTS "chunks_part_70_collection_id_fkey";

ALTER TABLE "chunks_part_70" DROP CONSTRAINT IF EXISTS "chunks_part_70_pkey";

ALTER TABLE "chunks_part_71" DROP CONSTRAINT IF EXISTS "chunks_part_71_collection_id_fkey";

ALTER TABLE "chunks_part_71" DROP CONSTRAINT IF EXISTS "chunks_part_71_pkey";

ALTER TABLE "chunks_part_72" DROP CONSTRAINT IF EXISTS "chunks_part_72_collection_id_fkey";

ALTER TABLE "chunks_part_72" DROP CONSTRAINT IF EXISTS "chunks_part_72_pkey";

ALTER TABLE "chunks_part_73" DROP CONSTRAINT IF EXISTS "chunks_part_73_collection_id_fkey";

ALTER TABLE "chunks_part_73" DROP CONSTRAINT IF EXISTS "chunks_part_73_pkey";

ALTER TABLE "chunks_part_74" DROP CONSTRAINT IF EXISTS "chunks_part_74_collection_id_fkey";

ALTER TABLE "chunks_part_74" DROP CONSTRAINT IF EXISTS "chunks_part_74_pkey";

ALTER TABLE "chunks_part_75" DROP CONSTRAINT IF EXISTS "chunks_part_75_collection_id_fkey";

ALTER TABLE "chunks_part_75" DROP CONSTRAINT IF EXISTS "chunks_part_75_pkey";

ALTER TABLE "chunks_part_76" DROP CONSTRAINT IF EXISTS "chunks_part_76_collection_id_fkey";

ALTER TABLE "chunks_part_76" DROP CONSTRAINT IF EXISTS "chunks_part_76_pkey";

ALTER TABLE "chunks_part_77" DROP CONSTRAINT IF EXISTS "chunks_part_77_collection_id_fkey";

ALTER TABLE "chunks_part_77" DROP CONSTRAINT IF EXISTS "chunks_part_77_pkey";

ALTER TABLE "chunks_part_78" DROP CONSTRAINT IF EXISTS "chunks_part_78_collection_id_fkey";

ALTER TABLE "chunks_part_78" DROP CONSTRAINT IF EXISTS "chunks_part_78_pkey";

ALTER TABLE "chunks_part_79" DROP CONSTRAINT IF EXISTS "chunks_part_79_collection_id_fkey";

ALTER TABLE "chunks_part_79" DROP CONSTRAINT IF EXISTS "chunks_part_79_pkey";

ALTER TABLE "chunks_part_80" DROP CONSTRAINT IF EXISTS "chunks_part_80_collection_id_fkey";

ALTER TABLE "chunks_part_80" DROP CONSTRAINT IF EXISTS "chunks_part_80_pkey";

ALTER TABLE "chunks_part_81" DROP CONSTRAINT IF EXISTS "chunks_part_81_collection_id_fkey";

ALTER TABLE "chunks_part_81" DROP CONSTRAINT IF EXISTS "chunks_part_81_pkey";

ALTER TABLE "chunks_part_82" DROP CONSTRAINT IF EXISTS "chunks_part_82_collection_id_fkey";

ALTER TABLE "chunks_part_82" DROP CONSTRAINT IF EXISTS "chunks_part_82_pkey";

ALTER TABLE "chunks_part_83" DROP CONSTRAINT IF EXISTS "chunks_part_83_collection_id_fkey";

ALTER TABLE "chunks_part_83" DROP CONSTRAINT IF EXISTS "chunks_part_83_pkey";

ALTER TABLE "chunks_part_84" DROP CONSTRAINT IF EXISTS "chunks_part_84_collection_id_fkey";

ALTER TABLE "chunks_part_84" DROP CONSTRAINT IF EXISTS "chunks_part_84_pkey";

ALTER TABLE "chunks_part_85" DROP CONSTRAINT IF EXISTS "chunks_part_85_collection_id_fkey";

ALTER TABLE "chunks_part_85" DROP CONSTRAINT IF EXISTS "chunks_part_85_pkey";

ALTER TABLE "chunks_part_86" DROP CONSTRAINT IF EXISTS "chunks_part_86_collection_id_fkey";

ALTER TABLE "chunks_part_86" DROP CONSTRAINT IF EXISTS "chunks_part_86_pkey";

ALTER TABLE "chunks_part_87" DROP CONSTRAINT IF EXISTS "chunks_part_87_collection_id_fkey";

ALTER TABLE "chunks_part_87" DROP CONSTRAINT IF EXISTS "chunks_part_87_pkey";

ALTER TABLE "chunks_part_88" DROP CONSTRAINT IF EXISTS "chunks_part_88_collection_id_fkey";

ALTER TABLE "chunks_part_88" DROP CONSTRAINT IF EXISTS "chunks_part_88_pkey";

ALTER TABLE "chunks_part_89" DROP CONSTRAINT IF EXISTS "chunks_part_89_collection_id_fkey";

ALTER TABLE "chunks_part_89" DROP CONSTRAINT IF EXISTS "chunks_part_89_pkey";

ALTER TABLE "chunks_part_90" DROP CONSTRAINT IF EXISTS "chunks_part_90_collection_id_fkey";

ALTER TABLE "chunks_part_90" DROP CONSTRAINT IF EXISTS "chunks_part_90_pkey";

ALTER TABLE "chunks_part_91" DROP CONSTRAINT IF EXISTS "chunks_part_91_collection_id_fkey";

ALTER TABLE "chunks_part_91" DROP CONSTRAINT IF EXISTS "chunks_part_91_pkey";

ALTER TABLE "chunks_part_92" DROP CONSTRAINT IF EXISTS "chunks_part_92_collection_id_fkey";

ALTER TABLE "chunks_part_92" DROP CONSTRAINT IF EXISTS "chunks_part_92_pkey";

ALTER TABLE "chunks_part_93" DROP CONSTRAINT IF EXISTS "chunks_part_93_collection_id_fkey";

ALTER TABLE "chunks_part_93" DROP CONSTRAINT IF EXISTS "chunks_part_93_pkey";

ALTER TABLE "chunks_part_94" DROP CONSTRAINT IF EXISTS "chunks_part_94_collection_id_fkey";

ALTER TABLE "chunks_part_94" DROP CONSTRAINT IF EXISTS "chunks_part_94_pkey";

ALTER TABLE "chunks_part_95" DROP CONSTRAINT IF EXISTS "chunks_part_95_collection_id_fkey";

ALTER TABLE "chunks_part_95" DROP CONSTRAINT IF EXISTS "chunks_part_95_pkey";

ALTER TABLE "chunks_part_96" DROP CONSTRAINT IF EXISTS "chunks_part_96_collection_id_fkey";

ALTER TABLE "chunks_part_96" DROP CONSTRAINT IF EXISTS "chunks_part_96_pkey";

ALTER TABLE "chunks_part_97" DROP CONSTRAINT IF EXISTS "chunks_part_97_collection_id_fkey";

ALTER TABLE "chunks_part_97" DROP CONSTRAINT IF EXISTS "chunks_part_97_pkey";

ALTER TABLE "chunks_part_98" DROP CONSTRAINT IF EXISTS "chunks_part_98_collection_id_fkey";

ALTER TABLE "chunks_part_98" DROP CONSTRAINT IF EXISTS "chunks_part_98_pkey";

ALTER TABLE "chunks_part_99" DROP CONSTRAINT IF EXISTS "chunks_part_99_collection_id_fkey";

ALTER TABLE "chunks_part_99" DROP CONSTRAINT IF EXISTS "chunks_part_99_pkey";

ALTER TABLE chunks ADD CONSTRAINT "chunks_pkey" PRIMARY KEY (id, collection_id, partition_key);

ALTER TABLE chunks ADD CONSTRAINT "chunks_collection_id_fkey" FOREIGN KEY (collection_id) REFERENCES collections(id) ON DELETE CASCADE;

DROP TABLE IF EXISTS semantik_chunks_partition_keys;

UPDATE semantik_chunks_alembic_version SET version_num='sc0006' WHERE semantik_chunks_alembic_version.version_num = 'sc0007';

COMMIT;

